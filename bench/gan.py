"""GAN benchmark: nnplay's GAN trainer against a bare PyTorch GAN loop, and probe costs.

Prints one JSON object. Machines are noisy, so the headline number is a ratio taken in
one run with the two loops interleaved (best of several rounds each). Both loops train
the same generator and discriminator modules (built by nnplay from the spec), with the
same optimizers, batch size, d_steps/g_steps and non-saturating loss; nnplay also takes
a metrics point and a snapshot 20 times a second, as it does for a page watching it.

    .venv/bin/python bench/gan.py [--steps 3000] [--rounds 3] [--frames 200]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
import torch.nn.functional as F

from engine import compare_rates, loop_rate, median_ms, reporting_options, with_steps
from nnplay.api.frames import snapshot_frames
from nnplay.data import build_gan_data
from nnplay.models.gan import Discriminator, Generator
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, GanLoss
from nnplay.train.gan import GanTrainer
from nnplay.train.optimizers import build_optimizer
from nnplay.train.trainer import TrainerOptions


def nnplay_iterations_per_s(spec: ExperimentSpec) -> float:
    """Iterations/s of `GanTrainer.run()` with metrics and snapshots at 20 per second."""
    return loop_rate(GanTrainer(spec, reporting_options()))


def bare_iterations_per_s(spec: ExperimentSpec) -> float:
    """Iterations/s of a hand-written GAN loop with the same networks, optimizers and batch."""
    if spec.gan_loss != GanLoss.non_saturating:
        raise ValueError("the bare loop is written for the non-saturating loss")
    assert spec.generator is not None and spec.discriminator is not None
    data = build_gan_data(spec)
    torch.manual_seed(spec.seed)
    generator = Generator(spec.generator, spec.latent_dim, data.n_features, data.is_image)
    discriminator = Discriminator(spec.discriminator, data.n_features, data.image_shape)
    g_spec, d_spec = spec.gan_optimizers()
    g_opt = build_optimizer(g_spec, generator.parameters())
    d_opt = build_optimizer(d_spec, discriminator.parameters())
    real_data = data.real  # (n, d)
    n, batch, latent = real_data.shape[0], spec.batch_size, spec.latent_dim
    rng = torch.Generator().manual_seed(spec.seed)
    generator.train()
    discriminator.train()
    started = time.perf_counter()
    for _ in range(spec.max_steps):
        for _ in range(spec.d_steps):
            real = real_data[torch.randint(n, (batch,), generator=rng)]
            with torch.no_grad():
                fake = generator(torch.randn(batch, latent, generator=rng))
            d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(
                discriminator(fake)).mean()
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
        for _ in range(spec.g_steps):
            fake = generator(torch.randn(batch, latent, generator=rng))
            g_loss = F.softplus(-discriminator(fake)).mean()
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
        d_loss.item()  # a loop that logs its losses reads them back, as nnplay does
        g_loss.item()
    return spec.max_steps / (time.perf_counter() - started)


def compare(spec: ExperimentSpec, rounds: int) -> dict[str, float]:
    """Best-of-`rounds` iterations/s of both loops, measured alternately, and their ratio."""
    return compare_rates(bare_iterations_per_s, nnplay_iterations_per_s, spec, rounds,
                         unit="iterations")


def probe_costs(spec: ExperimentSpec, frames: int) -> dict[str, float]:
    """Median ms of one snapshot, of encoding its frames, and of one metrics point."""
    trainer = GanTrainer(spec, TrainerOptions(snapshot_interval=0))
    for _ in range(20):
        trainer.train_step()
    trainer.snapshot()
    trainer.evaluate()
    snapshot = trainer.snapshot()
    return {"snapshot_ms": median_ms(trainer.snapshot, frames),
            "encode_ms": median_ms(lambda: snapshot_frames(snapshot), frames),
            "metrics_ms": median_ms(trainer.evaluate, max(1, frames // 4))}


def main() -> None:
    """Run every measurement and print the JSON object."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the server does

    gaussians = get_preset("gan-gaussians").build()
    digits = get_preset("gan-digits").build()
    report: dict[str, Any] = {
        "gan_gaussians": compare(with_steps(gaussians, args.steps), args.rounds),
        "frame_cost": {"gan_gaussians": probe_costs(gaussians, args.frames),
                       "gan_digits": probe_costs(digits, args.frames)},
        "targets": {"ratio": ">= 0.9", "snapshot_ms": "< 5"},
        "steps": args.steps,
        "rounds": args.rounds,
        "batch_size": gaussians.batch_size,
        "torch_threads": torch.get_num_threads(),
        "device": str(GanTrainer(gaussians, TrainerOptions(snapshot_interval=0)).device),
        "torch": torch.__version__,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
