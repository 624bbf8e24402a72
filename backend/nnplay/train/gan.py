"""The GAN trainer: a generator and a discriminator playing their game on one target.

Each step is one iteration: `d_steps` discriminator updates (a real batch against a
generated one) then `g_steps` generator updates, each network with its own optimizer.
Metrics are measured on fixed evaluation batches (fixed latent vectors, a fixed real
reference sample), so the curves show the networks changing, not batch noise.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from nnplay.data.gan_targets import GanData, build_gan_data
from nnplay.models.gan import Discriminator, Generator, parameter_count
from nnplay.spec import ExperimentSpec, NoiseKind
from nnplay.train.control import TrainerControl
from nnplay.train.device import resolve_device
from nnplay.train.events import GanMetricsEvent, GanSnapshot, TrainStart
from nnplay.train.gan_metrics import (
    GridDivergence,
    ModeCoverage,
    SlicedWasserstein,
    score_digits,
)
from nnplay.train.gan_objectives import GanObjective, gradient_penalty
from nnplay.train.gan_probes import SAMPLE_COLS, SAMPLE_ROWS, SHOWN_POINTS, GanProber
from nnplay.train.loop import BUILD_LOCK, Diverged, TrainerOptions, TrainLoop
from nnplay.train.optimizers import build_optimizer, set_learning_rate

DIGITS_SCORED = 200  # generated digits the classifier scores at each metrics point


def sample_latent(n: int, latent_dim: int, noise: NoiseKind, generator: torch.Generator,
                  device: torch.device) -> Tensor:
    """`n` latent vectors `(n, latent_dim)`: standard normal, or uniform in [-1, 1]."""
    if noise == NoiseKind.uniform:
        return torch.rand(n, latent_dim, generator=generator, device=device) * 2.0 - 1.0
    return torch.randn(n, latent_dim, generator=generator, device=device)


class GanTrainer(TrainLoop):
    """Trains the generator/discriminator pair of a GAN spec."""

    def __init__(self, spec: ExperimentSpec, options: TrainerOptions | None = None,
                 control: TrainerControl | None = None) -> None:
        super().__init__(spec, options, control)
        assert spec.generator is not None and spec.discriminator is not None  # the validator
        self.data: GanData = build_gan_data(spec)
        data = self.data
        self.latent_dim = spec.latent_dim
        self.noise = spec.noise
        with BUILD_LOCK:
            torch.manual_seed(spec.seed)
            self.generator = Generator(spec.generator, spec.latent_dim, data.n_features,
                                       squash=data.is_image)
            self.discriminator = Discriminator(spec.discriminator, data.n_features,
                                               data.image_shape)
        # One module holding both: its state dict is the run's weights.
        self.network = nn.ModuleDict({"generator": self.generator,
                                      "discriminator": self.discriminator})
        self.device = resolve_device(self.options.device, parameter_count(self.network))
        self.network.to(self.device)
        g_spec, d_spec = spec.gan_optimizers()
        self.g_optimizer = build_optimizer(g_spec, self.generator.parameters())
        self.d_optimizer = build_optimizer(d_spec, self.discriminator.parameters())
        self.g_lr, self.d_lr = g_spec.lr, d_spec.lr
        self.objective = GanObjective(spec.gan_loss, spec.gradient_penalty)
        self.penalty = self.objective.penalty

        self.real = data.real.to(self.device)  # (n, d)
        self.n_real = self.real.shape[0]
        self.batch_size = spec.batch_size
        self.d_steps, self.g_steps = spec.d_steps, spec.g_steps
        self.steps_per_epoch = math.ceil(self.n_real / (self.batch_size * self.d_steps))
        # Training noise, real batches and penalty mixes come from this generator alone.
        self._rng = torch.Generator(device=self.device).manual_seed(spec.seed)

        # Fixed for the whole run: evaluation and display latents, the penalty's mixes.
        fixed = torch.Generator().manual_seed(spec.seed + 1)
        self.reference = data.reference.to(self.device)  # (m, d)
        m = self.reference.shape[0]
        cpu = torch.device("cpu")
        self._z_eval = sample_latent(m, self.latent_dim, self.noise, fixed, cpu).to(self.device)
        self._mix_eval = torch.rand(m, 1, generator=fixed).to(self.device)
        shown = SAMPLE_ROWS * SAMPLE_COLS if data.is_image else SHOWN_POINTS
        z_shown = sample_latent(shown, self.latent_dim, self.noise, fixed, cpu)
        self._distance = SlicedWasserstein(self.reference, seed=spec.seed)
        self._grid = None if data.is_image else GridDivergence(self.reference, data.domain)
        self._modes = (ModeCoverage(data.mode_centres, data.mode_radius)
                       if data.mode_centres is not None else None)
        self.prober = GanProber(
            self.generator, self.discriminator, self.objective, latent_dim=self.latent_dim,
            noise=self.noise, domain=data.domain, image_shape=data.image_shape,
            shown_latents=z_shown, device=self.device, grid_size=self.options.grid_size)
        self._mode_matters = any(isinstance(m, nn.Dropout | nn.BatchNorm1d | nn.BatchNorm2d)
                                 for m in self.network.modules())

    # ----- one iteration --------------------------------------------------------------
    def _latent(self, n: int) -> Tensor:
        return sample_latent(n, self.latent_dim, self.noise, self._rng, self.device)

    def _real_batch(self) -> Tensor:
        if self.batch_size >= self.n_real:
            return self.real
        index = torch.randint(self.n_real, (self.batch_size,), generator=self._rng,
                              device=self.device)
        return self.real[index]

    def train_step(self) -> float:
        """One iteration: `d_steps` discriminator updates, then `g_steps` generator updates.

        Returns the last generator loss.
        """
        return self.train_phase("both")

    def train_phase(self, phase: str) -> float:
        """One iteration of "d" (discriminator only), "g" (generator only) or "both"."""
        generator, discriminator, objective = self.generator, self.discriminator, self.objective
        batch = self.batch_size
        d_loss = g_loss = None
        for _ in range(self.d_steps if phase in ("both", "d") else 0):
            real = self._real_batch()
            with torch.no_grad():
                fake = generator(self._latent(batch))
            d_loss = objective.d_loss(discriminator(real), discriminator(fake))
            if self.penalty:
                mix = torch.rand(real.shape[0], 1, generator=self._rng, device=self.device)
                d_loss = d_loss + self.penalty * gradient_penalty(discriminator, real, fake, mix)
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
        for _ in range(self.g_steps if phase in ("both", "g") else 0):
            g_loss = objective.g_loss(discriminator(generator(self._latent(batch))))
            self.g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            self.g_optimizer.step()
        self.step += 1
        d_value = d_loss.item() if d_loss is not None else 0.0
        g_value = g_loss.item() if g_loss is not None else 0.0
        if not (math.isfinite(d_value) and math.isfinite(g_value)):
            which = "discriminator" if not math.isfinite(d_value) else "generator"
            value = d_value if which == "discriminator" else g_value
            raise Diverged(f"diverged: the {which} loss became {value} at step {self.step} "
                           "(try smaller learning rates)")
        return g_value

    # ----- reporting ----------------------------------------------------------------
    def evaluate(self, detailed: bool = False) -> GanMetricsEvent:
        """Losses, D's mean outputs and the distances on the fixed evaluation batches."""
        objective, discriminator = self.objective, self.discriminator
        nets: tuple[nn.Module, ...] = (self.generator, self.discriminator)
        modes = [net.training for net in nets]
        if self._mode_matters:
            for net in nets:
                net.eval()
        try:
            with torch.no_grad():
                fake = self.generator(self._z_eval)  # (m, d)
                real_out, fake_out = discriminator(self.reference), discriminator(fake)
                d_loss = float(objective.d_loss(real_out, fake_out))
                g_loss = float(objective.g_loss(fake_out))
                d_real = float(objective.display(real_out).mean())
                d_fake = float(objective.display(fake_out).mean())
            if self.penalty:
                d_loss += self.penalty * float(gradient_penalty(
                    discriminator, self.reference, fake, self._mix_eval, create_graph=False))
        finally:
            if self._mode_matters:
                for net, mode in zip(nets, modes, strict=True):
                    net.train(mode)
        kl = js = coverage = None
        digits = None
        if self._grid is not None:
            kl, js = self._grid(fake)
        else:
            digits = score_digits(fake[:DIGITS_SCORED])
            coverage = digits.coverage
        if self._modes is not None:
            coverage = self._modes(fake)
        return GanMetricsEvent(
            step=self.step, epoch=self.step * self.d_steps * self.batch_size / self.n_real,
            d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake,
            distance=self._distance(fake), lr=self.g_lr, g_lr=self.g_lr, d_lr=self.d_lr,
            steps_per_second=self.steps_per_second(), elapsed=self.elapsed, kl=kl, js=js,
            confidence=digits.confidence if digits else None, coverage=coverage,
            score=digits.score if digits else None,
        )

    def snapshot(self) -> GanSnapshot:
        """Probe both networks now."""
        return self.prober.snapshot(self.step)

    def set_lr(self, lr: float, target: str = "all") -> None:
        """Set the generator's ("g"), the discriminator's ("d") or both ("all") lr."""
        if target in ("all", "g"):
            set_learning_rate(self.g_optimizer, lr)
            self.g_lr = lr
        if target in ("all", "d"):
            set_learning_rate(self.d_optimizer, lr)
            self.d_lr = lr

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: weights, optimizers, step, RNGs."""
        return {
            **self.loop_state(), "g_lr": self.g_lr, "d_lr": self.d_lr,
            "network": {k: v.detach().cpu().clone() for k, v in
                        self.network.state_dict().items()},
            "g_optimizer": copy.deepcopy(self.g_optimizer.state_dict()),
            "d_optimizer": copy.deepcopy(self.d_optimizer.state_dict()),
            "gan_rng": self._rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` (the spec must be the same)."""
        self.network.load_state_dict(state["network"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        self.load_loop_state(state)
        self.g_lr, self.d_lr = float(state["g_lr"]), float(state["d_lr"])
        set_learning_rate(self.g_optimizer, self.g_lr)
        set_learning_rate(self.d_optimizer, self.d_lr)
        self._rng.set_state(state["gan_rng"])

    def start_info(self) -> TrainStart:
        """Sizes and shapes the views need before the first step."""
        generator_rows = self.generator.layer_rows()
        return TrainStart(
            n_inputs=self.latent_dim, n_outputs=self.data.n_features, n_classes=0,
            layer_sizes=self.generator.net.hidden_widths(),
            parameter_count=parameter_count(self.network),
            steps_per_epoch=self.steps_per_epoch, device=str(self.device),
            layers=generator_rows,
            gan={"latent_dim": self.latent_dim, "noise": self.noise.value,
                 "gan_loss": self.spec.gan_loss.value,
                 "sample_shape": list(self.data.image_shape or (2,)),
                 "generator": generator_rows,
                 "discriminator": self.discriminator.layer_rows(),
                 "generator_parameters": parameter_count(self.generator),
                 "discriminator_parameters": parameter_count(self.discriminator)},
        )


def warm_up_gan() -> None:
    """Pay the GAN path's one-off costs (gradient penalty, autograd.grad) ahead of time."""
    spec = ExperimentSpec.model_validate({
        "task": "gan", "dataset": {"name": "ring", "n_samples": 20}, "batch_size": 5,
        "max_steps": 2, "gan_loss": "wasserstein_gp",
        "generator": {"layers": [{"units": 2}]}, "discriminator": {"layers": [{"units": 2}]}})
    trainer = GanTrainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))
    trainer.train_step()
    trainer.snapshot()
    trainer.evaluate()


__all__ = ["GanTrainer", "sample_latent", "warm_up_gan"]
