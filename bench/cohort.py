"""Cohort benchmark: M solo trainers stepped one by one against the same M runs as cohorts.

Prints one JSON object. For each mix and M, the aggregate steps/s (all members' steps
per second, one thread) of solo `Trainer.train_step()` calls taken in turn, and of
`Cohort.step()` over the cohorts the M specs form (one per structural key), and the
ratio. Mixes: "same" (everyone on the spiral preset, own seed and lr), "classroom"
(five presets, two pairs of which share a key, each run with its own seed and lr) and
"gan" (everyone on the gan-ring preset, own seed, target and lr: `GanTrainer.train_step()`
against `GanCohort.step()`, one iteration each, at `--gan-members`).
Solo rates are measured on at most `--solo-cap` trainers (a solo step does not depend
on how many others exist); cohort rates on all M members. Machines are noisy: the two
are measured in turn, `--rounds` times each, and the best of each is kept.

    .venv/bin/python bench/cohort.py [--members 10 100 1000] [--gan-members 10 100]
        [--seconds 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

import torch

from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec
from nnplay.train.cohort_engines import CohortEngine, make_engine
from nnplay.train.cohort_key import cohort_key
from nnplay.train.loop import TrainerOptions, TrainLoop
from nnplay.train.trainer import make_trainer

# (preset, variant label or None): spiral and optimizers/Adam share a key, as do circle
# and batch-vs-online's mini-batch run.
CLASSROOM = (("spiral", None), ("optimizers", "Adam"), ("circle", None),
             ("batch-vs-online", "mini-batch (10)"), ("overfitting", None))


def preset_spec(name: str, label: str | None) -> ExperimentSpec:
    """The spec of a preset, or of one labelled run of a race preset."""
    runs = get_preset(name).race()
    if label is None:
        return runs[0][1]
    return next(spec for run, spec in runs if run == label)


def member_specs(mix: str, members: int) -> list[ExperimentSpec]:
    """`members` specs of the mix, each with its own seed and a learning rate around the
    preset's (x0.5 to x2)."""
    bases = [preset_spec("spiral", None)] if mix == "same" else \
        [preset_spec("gan-ring", None)] if mix == "gan" else \
        [preset_spec(name, label) for name, label in CLASSROOM]
    specs = []
    for i in range(members):
        base = bases[i % len(bases)]
        factor = 2.0 ** ((i % 7) / 3 - 1)  # 0.5 ... 2
        optimizer = base.optimizer.model_copy(update={"lr": base.optimizer.lr * factor})
        dataset = base.dataset.model_copy(update={"seed": i})
        specs.append(base.model_copy(update={"seed": i, "optimizer": optimizer,
                                             "dataset": dataset, "max_steps": 10**6}))
    return specs


def solo_trainers(specs: list[ExperimentSpec]) -> list[TrainLoop]:
    """Solo trainers of `specs`, each stepped once (warm)."""
    trainers = [make_trainer(spec, TrainerOptions(snapshot_interval=0)) for spec in specs]
    for trainer in trainers:
        trainer.train_step()
    return trainers


def solo_rate(trainers: list[TrainLoop], seconds: float) -> float:
    """Aggregate steps/s of solo trainers stepped one after another."""
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for trainer in trainers:
            trainer.train_step()
        steps += len(trainers)
    return steps / (time.perf_counter() - started)


def build_cohorts(specs: list[ExperimentSpec]) -> list[CohortEngine]:
    """One cohort per structural key among `specs`."""
    groups: dict[Hashable, list[tuple[int, ExperimentSpec, None]]] = defaultdict(list)
    for i, spec in enumerate(specs):
        groups[cohort_key(spec)].append((i, spec, None))
    cohorts = []
    for members in groups.values():
        cohort = make_engine(members[0][1])
        cohort.add_many(members)
        cohorts.append(cohort)
    return cohorts


def cohort_rate(cohorts: list[CohortEngine], seconds: float) -> tuple[float, float]:
    """Aggregate steps/s of the cohorts stepped in turn, and seconds per round of steps."""
    for cohort in cohorts:
        cohort.step()
    members = sum(len(cohort) for cohort in cohorts)
    rounds, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for cohort in cohorts:
            cohort.step()
        rounds += 1
    elapsed = time.perf_counter() - started
    return rounds * members / elapsed, elapsed / rounds


def main() -> None:
    """Run the comparison and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--gan-members", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--mixes", nargs="+", default=["same", "classroom", "gan"],
                        choices=["same", "classroom", "gan"])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--solo-cap", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one worker process trains on one core
    results: list[dict[str, Any]] = []
    for mix in args.mixes:
        trainers = solo_trainers(member_specs(mix, args.solo_cap))
        for members in args.gan_members if mix == "gan" else args.members:
            specs = member_specs(mix, members)
            started = time.perf_counter()
            cohorts = build_cohorts(specs)
            built = time.perf_counter() - started
            solo, rate, round_seconds = 0.0, 0.0, math.inf
            for _ in range(args.rounds):
                solo = max(solo, solo_rate(trainers, args.seconds))
                measured = cohort_rate(cohorts, args.seconds)
                rate, round_seconds = max(rate, measured[0]), min(round_seconds, measured[1])
            results.append({
                "mix": mix, "members": members, "cohorts": len(cohorts),
                "solo_steps_per_s": round(solo), "cohort_steps_per_s": round(rate),
                "ratio": round(rate / solo, 1),
                "steps_per_s_per_member": round(rate / members, 1),
                "round_ms": round(round_seconds * 1e3, 3),
                "build_s": round(built, 2),
            })
    same_100 = build_cohorts(member_specs("same", 100))
    step_seconds = min(cohort_rate(same_100, args.seconds)[1] for _ in range(args.rounds))
    print(json.dumps({
        "torch_threads": torch.get_num_threads(), "load": os.getloadavg(),
        "solo_trainers_measured": args.solo_cap,
        "cohort_step_ms_100_members_spiral": round(step_seconds * 1e3, 3),
        "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
