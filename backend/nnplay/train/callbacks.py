"""Typed callback hooks the trainer calls; subclasses override what they need."""

from __future__ import annotations

from nnplay.train.events import AnyMetricsEvent, AnySnapshot, TrainResult, TrainStart


class Callback:
    """Do-nothing hooks; every method runs on the training thread, so keep them quick."""

    def on_train_start(self, start: TrainStart) -> None:
        """Called once before the first step."""

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        """Called with each new point of the curves."""

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        """Called with each probe snapshot (boundary, neurons, weights; GAN probes for GANs)."""

    def on_pause(self, step: int) -> None:
        """Called when the loop parks itself because it was paused."""

    def on_parked(self, step: int) -> None:
        """Called when a parked loop is woken but stays paused (e.g. `TrainerControl.nudge`)."""

    def on_resume(self, step: int) -> None:
        """Called when a paused loop continues."""

    def on_train_end(self, result: TrainResult) -> None:
        """Called once at the end, whatever happened (also after an error)."""
