"""Engine benchmark: nnplay's training loop against a bare PyTorch loop, and probe cost.

Prints one JSON object. Machines are noisy, so the headline numbers are ratios taken
in one run with the two loops interleaved (best of several rounds each):

    .venv/bin/python bench/engine.py [--steps 6000] [--rounds 3] [--frames 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from nnplay.data import build_dataset
from nnplay.models.network import build_network
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, LossName, Task, parse_spec
from nnplay.train.loop import TrainLoop
from nnplay.train.optimizers import build_optimizer
from nnplay.train.trainer import Trainer, TrainerOptions

FRAME_INTERVAL = 0.05  # 20 frames/s, what the page asks for


def with_steps(spec: ExperimentSpec, steps: int) -> ExperimentSpec:
    """`spec` with its step budget set to `steps`."""
    return spec.model_copy(update={"max_steps": steps})


def reporting_options() -> TrainerOptions:
    """What a page watching a run asks for: metrics and snapshots 20 times a second."""
    return TrainerOptions(metrics_interval=FRAME_INTERVAL, snapshot_interval=FRAME_INTERVAL)


def loop_rate(trainer: TrainLoop) -> float:
    """Steps (iterations) per second of `trainer.run()` over its whole budget."""
    started = time.perf_counter()
    result = trainer.run()
    seconds = time.perf_counter() - started
    if result.steps != trainer.spec.max_steps:
        raise RuntimeError(f"nnplay run ended early: {result.status} {result.reason}")
    return result.steps / seconds


def nnplay_steps_per_s(spec: ExperimentSpec) -> float:
    """Steps/s of `Trainer.run()` with metrics and snapshots at 20 per second."""
    return loop_rate(Trainer(spec, reporting_options()))


def bare_steps_per_s(spec: ExperimentSpec) -> float:
    """Steps/s of a hand-written PyTorch loop with the same network, data, optimizer and batch."""
    if spec.task != Task.classification or spec.loss != LossName.mse:
        raise ValueError("the bare loop is written for squared-error classification")
    data = build_dataset(spec)
    torch.manual_seed(spec.seed)
    network = build_network(spec.model, data.n_inputs, 1)
    optimizer = build_optimizer(spec.optimizer, network.parameters())
    x = data.x_train  # (n, f)
    t = data.y_train.float() * 2 - 1  # (n,) targets in {-1, +1}
    n, batch, steps = x.shape[0], spec.batch_size, spec.max_steps
    generator = torch.Generator().manual_seed(spec.seed)
    network.train()
    done = 0
    started = time.perf_counter()
    while done < steps:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch):
            index = order[start:start + batch]
            out = network(x[index])  # (m, 1)
            loss = F.mse_loss(torch.tanh(out[:, 0]), t[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
            done += 1
            if done == steps:
                break
    return steps / (time.perf_counter() - started)


def compare_rates(bare: Callable[[ExperimentSpec], float],
                  ours: Callable[[ExperimentSpec], float], spec: ExperimentSpec, rounds: int,
                  unit: str = "steps") -> dict[str, float]:
    """Best-of-`rounds` rates of both loops, measured alternately, and their ratio."""
    bare(with_steps(spec, 200))  # warm up allocator and kernels
    ours(with_steps(spec, 200))
    bare_rates, our_rates = [], []
    for _ in range(rounds):
        bare_rates.append(bare(spec))
        our_rates.append(ours(spec))
    return {f"nnplay_{unit}_per_s": round(max(our_rates)),
            f"bare_{unit}_per_s": round(max(bare_rates)),
            "ratio": round(max(our_rates) / max(bare_rates), 3)}


def compare(spec: ExperimentSpec, rounds: int) -> dict[str, float]:
    """Best-of-`rounds` steps/s of both loops, measured alternately, and their ratio."""
    return compare_rates(bare_steps_per_s, nnplay_steps_per_s, spec, rounds)


def median_ms(action: Callable[[], Any], repeats: int) -> float:
    """Median milliseconds of `action()`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def frame_ms(spec: ExperimentSpec, frames: int) -> float:
    """Median milliseconds of one `Trainer.snapshot()` (boundary, neurons, weights)."""
    trainer = Trainer(spec, TrainerOptions(snapshot_interval=0))
    for _ in range(10):
        trainer.train_step()
        trainer.snapshot()
    return median_ms(trainer.snapshot, frames)


def main() -> None:
    """Run every measurement and print the JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the server does

    default = ExperimentSpec()
    spiral = get_preset("spiral").build()
    deep = parse_spec({"model": {"layers": [{"units": 8, "activation": "tanh"}] * 6}})
    report: dict[str, Any] = {
        "default": compare(with_steps(default, args.steps), args.rounds),
        "spiral": compare(with_steps(spiral, args.steps), args.rounds),
        "frame_ms": {"default": frame_ms(default, args.frames),
                     "six_by_8_tanh": frame_ms(deep, args.frames)},
        "targets": {"ratio": ">= 0.9", "frame_ms.default": "< 0.5",
                    "frame_ms.six_by_8_tanh": "< 5"},
        "steps": args.steps,
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "device": str(Trainer(default, TrainerOptions(snapshot_interval=0)).device),
        "torch": torch.__version__,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
