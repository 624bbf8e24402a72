"""Thread-safe controls for a running trainer: pause, step, stop and live updates."""

from __future__ import annotations

import threading
from collections.abc import Callable


class TrainerControl:
    """Cooperative flags the trainer polls between steps; any thread may call the setters."""

    def __init__(self, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self.version = 0  # bumped by every change, so a scheduler knows when to look again
        self.on_change: Callable[[], None] | None = None  # e.g. wake a scheduler
        # `dirty` is the one attribute the hot loop reads each step; the rest are
        # read under the lock only when it is set.
        self.dirty = paused
        self._paused = paused
        self._stop = False
        self._step_credits = 0
        self.step_phase = "both"  # which networks a requested step trains (GANs: d, g, both)
        # Whether anyone views the run; unwatched runs skip the periodic snapshots.
        self.watched = True
        self._pending_lrs: dict[str, float] = {}  # target ("all", "g", "d") -> new lr
        # The image an image classifier's feature maps are of: (test index, drawn image).
        self._pending_probe: tuple[int | None, list[list[float]] | None] | None = None

    def _changed(self) -> None:
        self.dirty = True
        self.version += 1
        self._cond.notify_all()
        if self.on_change is not None:
            self.on_change()

    def pause(self) -> None:
        """Park the loop after the current step."""
        with self._cond:
            self._paused = True
            self._changed()

    def resume(self) -> None:
        """Continue a paused loop."""
        with self._cond:
            self._paused = False
            self._step_credits = 0
            self._changed()

    def request_steps(self, steps: int, phase: str = "both") -> None:
        """Run `steps` more steps while paused, then park again.

        `phase` says what a step trains: "both", or for a GAN only "d" or only "g".
        """
        with self._cond:
            self._step_credits += steps
            self.step_phase = phase
            self._changed()

    def set_watched(self, watched: bool) -> None:
        """Say whether anyone views the run (read by the loop at its report ticks)."""
        self.watched = watched

    def nudge(self) -> None:
        """Wake a parked loop without changing anything (it calls `on_parked`)."""
        with self._cond:
            self._changed()

    def stop(self) -> None:
        """End the run after the current step (also wakes a paused loop)."""
        with self._cond:
            self._stop = True
            self._changed()

    def set_lr(self, lr: float, target: str = "all") -> None:
        """Change the learning rate before the next step (a GAN: of "g", "d" or "all")."""
        with self._cond:
            if target == "all":
                self._pending_lrs.clear()
            self._pending_lrs[target] = lr
            self._changed()

    def set_probe(self, index: int | None = None,
                  image: list[list[float]] | None = None) -> None:
        """Probe test image `index` or a drawn image (h x w, 0..1) from the next step on."""
        with self._cond:
            self._pending_probe = (index, image)
            self._changed()

    def take_pending_probe(self) -> tuple[int | None, list[list[float]] | None] | None:
        """Return and clear the probe image asked for, if any."""
        with self._cond:
            pending, self._pending_probe = self._pending_probe, None
            return pending

    @property
    def paused(self) -> bool:
        """Whether a pause was asked for."""
        return self._paused

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop

    def take_pending_lrs(self) -> dict[str, float]:
        """Return and clear the learning-rate changes asked for, by target."""
        with self._cond:
            pending, self._pending_lrs = self._pending_lrs, {}
            return pending

    def take_step_credit(self) -> bool:
        """Use up one requested step; False when none is left."""
        with self._cond:
            if self._step_credits > 0:
                self._step_credits -= 1
                return True
            return False

    def has_step_credits(self) -> bool:
        """Whether requested steps remain."""
        return self._step_credits > 0

    def settle(self) -> None:
        """Clear `dirty` once the loop has nothing left to act on."""
        with self._cond:
            self.dirty = (
                self._paused or self._stop or bool(self._pending_lrs)
                or self._step_credits > 0 or self._pending_probe is not None
            )

    def wait_while_paused(self, timeout: float = 0.5) -> None:
        """Block until resumed, stepped or stopped (or `timeout` passes)."""
        with self._cond:
            if self._paused and not self._stop and self._step_credits == 0:
                self._cond.wait(timeout)
