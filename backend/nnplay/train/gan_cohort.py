"""A GAN cohort: many GAN pairs sharing a cohort key, trained as two stacked networks.

Each member's generator and discriminator weights sit in flat rows of one table
(`nnplay.train.cohort_stack`), stacked on a leading member axis M, each network with
its own vectorised optimizer and per-member hyperparameters (`g.hyper.lr`,
`d.hyper.lr`, ...). One `step()` is one iteration of every member's solo
`GanTrainer`: `d_steps` discriminator updates then `g_steps` generator updates, each
a batched forward (`torch.baddbmm`) and one backward of the summed member losses
(the gradient penalty's double backward included). Every random draw (real batch
indices, latent vectors, penalty mixes) comes from the member's own generator in its
solo run's order, so a member's run equals its solo run within float rounding. State
moves in and out in the solo `GanTrainer.state_dict()` format.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nnplay.data.gan_targets import build_gan_data
from nnplay.data.kinds import kind_of
from nnplay.models.activations import ACTIVATIONS
from nnplay.models.gan import Discriminator, Generator
from nnplay.spec import DenseLayer, ExperimentSpec, ModelSpec, NoiseKind, OptimizerSpec, Task
from nnplay.train.cohort_key import cohort_key, cohort_refusal
from nnplay.train.cohort_stack import (
    FlatLayout,
    MemberId,
    MemberRows,
    StackedOptimizer,
    Table,
    dense_forward,
)
from nnplay.train.gan_objectives import GanObjective, gradient_penalty
from nnplay.train.loop import BUILD_LOCK

TARGETS = ("all", "g", "d")  # which network's learning rate `set_lr` changes


@dataclass(frozen=True)
class GanCohortStep:
    """What one GAN cohort iteration gave, per member in row order."""

    ids: tuple[MemberId, ...]  # the members that stepped
    losses: Tensor  # (M,) each member's last generator loss (its solo `train_step()`)
    d_losses: Tensor  # (M,) each member's last discriminator loss (with its penalty)
    diverged: dict[MemberId, str]  # member -> the solo run's failure reason; they have left


@dataclass
class _GanMember:
    """What a member keeps outside the stacked rows."""

    spec: ExperimentSpec
    rng: torch.Generator  # its solo run's `_rng`: real batches, latents, penalty mixes
    g_optimizer: OptimizerSpec
    d_optimizer: OptimizerSpec


def _activations(model: ModelSpec) -> list[nn.Module]:
    return [ACTIVATIONS[layer.activation].make() for layer in model.layers
            if isinstance(layer, DenseLayer)]  # every layer (cohort_refusal said so)


class GanCohort(MemberRows[_GanMember]):
    """GAN pairs sharing one `cohort_key`, trained together one batched iteration at a time."""


    def __init__(self, spec: ExperimentSpec, grid_size: int = 64,
                 neuron_grid_size: int = 16) -> None:
        super().__init__()
        del grid_size, neuron_grid_size  # probes are the shadow trainer's
        if spec.task != Task.gan:
            raise ValueError(f"a GAN cohort takes GAN specs (got task '{spec.task.value}')")
        refusal = cohort_refusal(spec)
        if refusal is not None:
            raise ValueError(f"this spec cannot join a cohort: {refusal}")
        assert spec.generator is not None and spec.discriminator is not None
        self.key = cohort_key(spec)
        self.batch, self.n_real = spec.batch_size, spec.dataset.n_samples
        self.full_batch = self.batch >= self.n_real
        self.latent_dim, self.noise = spec.latent_dim, spec.noise
        self.d_steps, self.g_steps = spec.d_steps, spec.g_steps
        self.objective = GanObjective(spec.gan_loss, spec.gradient_penalty)
        self.penalised = self.objective.penalty > 0  # the same for every member (the key)
        # Each sample's width: 2 for the 2-D targets (cohort_refusal keeps images out).
        self.width = math.prod(kind_of(spec).sample_shape(spec.dataset.name))
        with torch.random.fork_rng(devices=[]):  # a template: names and shapes only
            generator, discriminator = self._networks(spec, self.width)
        self._g_layout = FlatLayout((f"generator.{name}", p)
                                    for name, p in generator.named_parameters())
        self._d_layout = FlatLayout((f"discriminator.{name}", p)
                                    for name, p in discriminator.named_parameters())
        g_spec, d_spec = spec.gan_optimizers()
        self._g = StackedOptimizer(g_spec, self._g_layout, "g.")
        self._d = StackedOptimizer(d_spec, self._d_layout, "d.")
        self._g_act = _activations(spec.generator)
        self._d_act = _activations(spec.discriminator)

    # ----- membership -----------------------------------------------------------------
    @staticmethod
    def _networks(spec: ExperimentSpec, width: int) -> tuple[Generator, Discriminator]:
        """The member's solo networks, with the same draws as its trainer's."""
        assert spec.generator is not None and spec.discriminator is not None
        with BUILD_LOCK:
            torch.manual_seed(spec.seed)
            generator = Generator(spec.generator, spec.latent_dim, width, squash=False)
            discriminator = Discriminator(spec.discriminator, width)
        return generator, discriminator

    def lr_of(self, member: MemberId, target: str = "g") -> float:
        """A member's current generator ("g") or discriminator ("d") learning rate."""
        optimizer = self._d if target == "d" else self._g
        return float(self._rows[optimizer.lr][self._ids.index(member)])

    def add_many(self, members: Sequence[tuple[MemberId, ExperimentSpec,
                                              dict[str, Any] | None]]) -> None:
        """Add members at a step boundary, each as its solo run starts or continues."""
        joining = []
        for member, spec, state in members:
            self._check_new(member, spec)
            row, info = self._row(spec, state)
            joining.append((member, row, info, int(state["step"]) if state else 0,
                            float(state["elapsed"]) if state else 0.0))
        self._append(joining)
        self._leaf_weights()

    def _drop(self, indices: Sequence[int]) -> None:
        self._keep(indices)
        self._leaf_weights()

    def _leaf_weights(self) -> None:
        for name in ("g.param", "d.param"):
            self._rows[name] = self._rows[name].detach().requires_grad_(True)

    def _row(self, spec: ExperimentSpec, state: dict[str, Any] | None
             ) -> tuple[Table, _GanMember]:
        """One member's table row, built as its solo trainer builds it."""
        generator, discriminator = self._networks(spec, self.width)
        if state is not None:
            nn.ModuleDict({"generator": generator, "discriminator": discriminator}
                          ).load_state_dict(state["network"])
        g_spec, d_spec = spec.gan_optimizers()
        row = self._g.row(g_spec, float(state["g_lr"]) if state else g_spec.lr,
                          torch.cat([p.detach().flatten() for p in generator.parameters()]),
                          state["g_optimizer"]["state"] if state else None)
        row.update(self._d.row(
            d_spec, float(state["d_lr"]) if state else d_spec.lr,
            torch.cat([p.detach().flatten() for p in discriminator.parameters()]),
            state["d_optimizer"]["state"] if state else None))
        penalty = GanObjective(spec.gan_loss, spec.gradient_penalty).penalty
        row["penalty"] = torch.tensor(penalty, dtype=torch.float32)
        row["data.real"] = build_gan_data(spec).real  # (n, width)
        rng = torch.Generator().manual_seed(spec.seed)
        if state is not None:
            rng.set_state(state["gan_rng"])
        return row, _GanMember(spec, rng, g_spec, d_spec)

    # ----- a member's state out, in the solo trainer's format ---------------------------
    def export_state(self, member: MemberId) -> dict[str, Any]:
        """A member's solo `GanTrainer.state_dict()`: load it into one to go on solo."""
        i = self._ids.index(member)
        info = self._members[member]
        rows = {name: value[i].detach().clone() for name, value in self._rows.items()}
        network = {**self._g_layout.state(rows["g.param"]),
                   **self._d_layout.state(rows["d.param"])}
        return {
            "format": 1, "step": int(self._steps[i]), "elapsed": float(self.elapsed[i]),
            "torch_rng": torch.get_rng_state(),
            "g_lr": float(rows[self._g.lr]), "d_lr": float(rows[self._d.lr]),
            "network": {name: w.clone() for name, w in network.items()},
            "g_optimizer": self._g.export(rows, info.g_optimizer),
            "d_optimizer": self._d.export(rows, info.d_optimizer),
            "gan_rng": info.rng.get_state(),
        }

    def weights_of(self, member: MemberId) -> dict[str, Tensor]:
        """A member's weights now, as its solo `GanTrainer.network`'s state dict (views)."""
        i = self._ids.index(member)
        return {**self._g_layout.state(self._rows["g.param"][i].detach()),
                **self._d_layout.state(self._rows["d.param"][i].detach())}

    # ----- live changes ---------------------------------------------------------------
    def set_lr(self, member: MemberId, lr: float, target: str = "all") -> None:
        """Change one member's generator ("g"), discriminator ("d") or both ("all") lr."""
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number (got {lr!r})")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)} (got {target!r})")
        i = self._ids.index(member)
        for name, optimizer in (("g", self._g), ("d", self._d)):
            if target in ("all", name):
                self._rows[optimizer.lr][i] = lr

    # ----- one iteration ------------------------------------------------------------------
    def _latents(self) -> Tensor:
        """Each member's next latent batch `(M, B, latent_dim)`, from its own generator."""
        shape = (self.batch, self.latent_dim)
        rngs = [self._members[member].rng for member in self._ids]
        if self.noise == NoiseKind.uniform:
            return torch.stack([torch.rand(shape, generator=rng) for rng in rngs]) * 2.0 - 1.0
        return torch.stack([torch.randn(shape, generator=rng) for rng in rngs])

    def _d_draws(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Each member's real batch `(M, B, width)`, latents and penalty mixes `(M, B, 1)`, drawn
        in its solo run's order (real indices, latents, mixes)."""
        real, m, n = self._rows["data.real"], len(self._ids), self.n_real
        if self.full_batch:
            batch = real
        else:
            index = torch.stack([
                torch.randint(n, (self.batch,), generator=self._members[member].rng)
                for member in self._ids])  # (M, B)
            index = (index + torch.arange(0, m * n, n)[:, None]).flatten()
            batch = real.reshape(m * n, -1).index_select(0, index).view(m, self.batch, -1)
        z = self._latents()
        mix = None
        if self.penalised:
            mix = torch.stack([torch.rand(batch.shape[1], 1, generator=self._members[mem].rng)
                               for mem in self._ids])
        return batch, z, mix

    def generate(self, z: Tensor, weights: list[Tensor] | None = None) -> Tensor:
        """Every member's generator on its latents: `(M, B, latent)` -> `(M, B, width)`."""
        weights = weights or self._g_layout.split(self._rows["g.param"])
        return dense_forward(z, weights, self._g_act)[0]

    def discriminate(self, x: Tensor, weights: list[Tensor] | None = None) -> Tensor:
        """Every member's discriminator on its samples: `(M, B, width)` -> `(M, B, 1)`."""
        weights = weights or self._d_layout.split(self._rows["d.param"])
        return dense_forward(x, weights, self._d_act)[0]

    def step(self) -> GanCohortStep:
        """One iteration of every member; members whose losses are not finite leave."""
        if not self._ids:
            raise RuntimeError("a cohort with no members cannot step")
        started = time.perf_counter()
        objective, rows = self.objective, self._rows
        m = len(self._ids)
        d_loss = g_loss = torch.zeros(m)
        for _ in range(self.d_steps):
            real, z, mix = self._d_draws()
            with torch.no_grad():
                fake = self.generate(z)
            views = self._d_layout.split(rows["d.param"])

            def critic(x: Tensor, views: list[Tensor] = views) -> Tensor:
                return self.discriminate(x, views)

            losses = objective.d_loss(critic(real), critic(fake))  # (M,)
            if mix is not None:
                losses = losses + rows["penalty"] * gradient_penalty(critic, real, fake, mix)
            grads = torch.autograd.grad(losses.sum(), views)
            self._d.step(rows, self._d_layout.flat_grads(grads))
            d_loss = losses.detach()
        for _ in range(self.g_steps):
            z = self._latents()
            views = self._g_layout.split(rows["g.param"])
            critic_weights = self._d_layout.split(rows["d.param"].detach())
            losses = objective.g_loss(self.discriminate(self.generate(z, views),
                                                        critic_weights))
            grads = torch.autograd.grad(losses.sum(), views)
            self._g.step(rows, self._g_layout.flat_grads(grads))
            g_loss = losses.detach()
        self._steps += 1
        self.elapsed += time.perf_counter() - started  # every member trained all along
        ids = tuple(self._ids)
        diverged: dict[MemberId, str] = {}
        bad = ~(torch.isfinite(d_loss) & torch.isfinite(g_loss))
        if bool(bad.any()):
            gone = torch.nonzero(bad).flatten().tolist()
            for i in gone:
                d_value, g_value = float(d_loss[i]), float(g_loss[i])
                which, value = (("discriminator", d_value) if not math.isfinite(d_value)
                                else ("generator", g_value))
                diverged[ids[i]] = (
                    f"diverged: the {which} loss became {value} at step "
                    f"{int(self._steps[i])} (try smaller learning rates)")
            self._drop(gone)
        return GanCohortStep(ids, g_loss, d_loss, diverged)


__all__ = ["GanCohort", "GanCohortStep"]
