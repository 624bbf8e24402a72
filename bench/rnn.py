"""RNN benchmark: nnplay's trainer on an LSTM against a bare PyTorch loop.

Prints one JSON object: for sequence lengths 20 and 100, steps/s of `Trainer.run()` with
metrics and frames at 20 per second (each snapshot encoded into frames, as the server
does for a watched run) and of a hand-written loop over the same LSTM, sine data and
batch (their ratio, target >= 0.9; the two are interleaved, best of `--rounds`; and
`ratio_median`, the median over rounds of each round's own ratio, which a load that
changes between rounds sways less), the
frame sets and metrics points per second that run achieved, the CPU cost of one frame set
(hidden state, gates, sequence, gradient norms; `reused`: as most are while a run streams,
the gradient norms renewed at most 5 times a second) and of one metrics point, and the
load.
`cpu_ratio` is the same ratio of steps per CPU second of this process: on a loaded machine
(other processes taking turns on the cores) wall-clock rates swing from run to run, CPU
time much less.

    .venv/bin/python bench/rnn.py [--steps 1000] [--rounds 5] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from nnplay.api.frames import snapshot_frames
from nnplay.data.sequences import build_sequence_dataset
from nnplay.models.network import Network
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.events import AnyMetricsEvent, AnySnapshot
from nnplay.train.optimizers import build_optimizer
from nnplay.train.trainer import Trainer, TrainerOptions

FRAME_INTERVAL = 0.05  # 20 frames/s, what the page asks for


def lstm_spec(seq_len: int, steps: int) -> ExperimentSpec:
    """A 32-unit LSTM predicting the next sine value from `seq_len` values, batch 32."""
    return parse_spec({
        "task": "regression", "loss": "mse",
        "dataset": {"name": "sine", "n_samples": 2000, "seq_len": seq_len,
                    "test_fraction": 0.2},
        "model": {"layers": [{"type": "lstm", "units": 32}]},
        "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "max_steps": steps})


class Counter(Callback):
    """Counts metrics points and snapshots, encoding each snapshot's frames."""

    def __init__(self) -> None:
        self.points = 0
        self.snapshots = 0

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        self.points += 1

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        snapshot_frames(snapshot)
        self.snapshots += 1


def nnplay_rate(spec: ExperimentSpec, device: str) -> tuple[float, float, float, float]:
    """Steps per second and per CPU second of `Trainer.run()` with metrics and snapshots
    asked for 20 times a second, and the frame sets and metrics points per second it made."""
    counter = Counter()
    trainer = Trainer(spec, TrainerOptions(metrics_interval=FRAME_INTERVAL,
                                           snapshot_interval=FRAME_INTERVAL, device=device,
                                           callbacks=[counter]))
    started, cpu = time.perf_counter(), time.process_time()
    result = trainer.run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return (result.steps / seconds, result.steps / cpu, counter.snapshots / seconds,
            counter.points / seconds)


def bare_rate(spec: ExperimentSpec, device: str) -> tuple[float, float]:
    """Steps per second and per CPU second of a hand-written loop: same LSTM, data,
    optimizer, batch; no reporting."""
    data = build_sequence_dataset(spec)
    torch.manual_seed(spec.seed)
    network = Network(spec.model, data.n_inputs, 1, data.input_shape).to(device)
    optimizer = build_optimizer(spec.optimizer, network.parameters())
    x, y = data.x_train.to(device), data.y_train.to(device)
    generator = torch.Generator().manual_seed(spec.seed)
    order, cursor = torch.empty(0, dtype=torch.long), x.shape[0]
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(spec.max_steps):
        if cursor >= x.shape[0]:
            order, cursor = torch.randperm(x.shape[0], generator=generator).to(device), 0
        index = order[cursor:cursor + spec.batch_size]
        cursor += spec.batch_size
        loss = F.mse_loss(network(x[index])[:, 0], y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # the trainer reads every loss (divergence check): so does this loop
    return (spec.max_steps / (time.perf_counter() - started),
            spec.max_steps / (time.process_time() - cpu))


def costs(spec: ExperimentSpec, repeats: int = 20) -> tuple[float, float, float]:
    """CPU milliseconds, a few steps into training, of one snapshot plus its encoding into
    frames with everything computed afresh (a new probe sequence each time), of one as a
    streaming run mostly takes them (gradient norms reused), and of one metrics point."""
    trainer = Trainer(spec, TrainerOptions(metrics_interval=60, snapshot_interval=0))
    for _ in range(5):
        trainer.train_step()
    probes = iter(range(10**6))

    def renewed() -> None:
        trainer.set_probe(index=next(probes) % 2)
        snapshot_frames(trainer.snapshot())

    def streaming() -> None:
        trainer.streaming = True
        snapshot_frames(trainer.snapshot())
        trainer.streaming = False

    measured = []
    for work in (renewed, streaming, trainer.evaluate):
        work()
        started = time.thread_time()
        for _ in range(repeats):
            work()
        measured.append((time.thread_time() - started) / repeats * 1000)
    return measured[0], measured[1], measured[2]


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lengths: dict[str, Any] = {}
    for seq_len in (20, 100):
        spec = lstm_spec(seq_len, args.steps)
        nnplay: list[tuple[float, float, float, float]] = []
        bare: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            bare.append(bare_rate(spec, args.device))
            nnplay.append(nnplay_rate(spec, args.device))
        best = max(nnplay)
        bare_best = max(rate for rate, _ in bare)
        frame_ms, reused_ms, metrics_ms = costs(spec)
        lengths[str(seq_len)] = {
            "nnplay_steps_per_s": round(best[0], 1), "bare_steps_per_s": round(bare_best, 1),
            "ratio": round(best[0] / bare_best, 3),
            "ratio_median": round(statistics.median(
                n[0] / b[0] for n, b in zip(nnplay, bare, strict=True)), 3),
            "cpu_ratio": round(max(n[1] for n in nnplay) / max(b[1] for b in bare), 3),
            "frames_per_s": round(best[2], 1), "metrics_per_s": round(best[3], 1),
            "frame_set_ms": round(frame_ms, 2), "frame_set_reused_ms": round(reused_ms, 2),
            "metrics_point_ms": round(metrics_ms, 2)}
    print(json.dumps({"device": args.device, "torch_threads": torch.get_num_threads(),
                      "model": "lstm 32", "batch_size": 32, "steps": args.steps,
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "seq_len": lengths}, indent=2))


if __name__ == "__main__":
    main()
