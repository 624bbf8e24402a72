"""Cohorts: members trained as one stacked model equal their solo `Trainer` runs.

Every comparison runs the real solo trainer on the same spec and checks each member's
weights and per-step losses against it within float tolerance: 1e-5 relative (the
distance of all its weights over their norm; each loss value). The batched kernels sum in another
order than the solo ones, and adaptive optimizers (RMSprop most) amplify that rounding
a little every step, so exact equality is not expected.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.cohort import Cohort
from nnplay.train.cohort_key import cohort_key, cohort_refusal
from nnplay.train.loop import Diverged, TrainerOptions
from nnplay.train.metrics import report_from_confusion
from nnplay.train.trainer import Trainer

# RMSprop divides by the root of a running mean of squared gradients: a gradient that is
# rounding noise gets a full-sized step, so at the lrs other optimizers take (0.01 and up)
# its runs part by more than the tolerance within 30 steps. It takes 10x smaller lrs here.
LR_SCALE = {"rmsprop": 0.1}
TOL = {"rtol": 1e-5, "atol": 1e-6}  # per loss value
RELATIVE = 1e-5  # the distance of a network's weights over their norm


def assert_near(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Weights `actual` are within `RELATIVE` of `expected`, measured on all of them."""
    assert sorted(actual) == sorted(expected)
    a = torch.cat([actual[name].flatten() for name in sorted(expected)])
    b = torch.cat([expected[name].flatten() for name in sorted(expected)])
    distance = float((a - b).norm())
    assert distance <= RELATIVE * float(b.norm()), \
        f"weights at distance {distance:.3g} from weights of norm {float(b.norm()):.3g}"


def make_spec(seed: int, lr: float, optimizer: dict[str, Any] | None = None, **extra: Any
              ) -> ExperimentSpec:
    """A small spiral classifier; `extra` overrides top-level fields."""
    data: dict[str, Any] = {
        "dataset": {"name": "spiral", "n_samples": 120, "noise": 0.1 * seed, "seed": seed},
        "features": ["x1", "x2", "sin_x1"],
        "model": {"layers": [{"units": 6, "activation": "tanh"},
                             {"units": 5, "activation": "relu"}]},
        "optimizer": {"lr": lr * LR_SCALE.get((optimizer or {}).get("name", "sgd"), 1.0),
                      **(optimizer or {"name": "sgd"})},
        "batch_size": 7,  # 60 training points: a short last batch every epoch
        "seed": seed, "max_steps": 1000,
    }
    return parse_spec({**data, **extra})


def solo(spec: ExperimentSpec, steps: int, state: dict[str, Any] | None = None
         ) -> tuple[Trainer, list[float]]:
    """The solo trainer of `spec` after `steps` steps (from `state` if given), and its losses."""
    trainer = Trainer(spec, TrainerOptions(snapshot_interval=0))
    if state is not None:
        trainer.load_state_dict(state)
    return trainer, [trainer.train_step() for _ in range(steps)]


def assert_member_is_solo(cohort: Cohort, member: Any, trainer: Trainer,
                          losses: list[float] | None = None,
                          cohort_losses: list[float] | None = None) -> None:
    """The member's weights, step and optimizer state (and losses) equal the solo run's."""
    state = cohort.export_state(member)
    assert_near(state["network"], trainer.network.state_dict())
    assert state["step"] == trainer.step
    if losses is not None and cohort_losses is not None:
        torch.testing.assert_close(torch.tensor(cohort_losses), torch.tensor(losses), **TOL)
    solo_optimizer = trainer.optimizer.state_dict()["state"]
    assert sorted(state["optimizer"]["state"]) == sorted(solo_optimizer)
    for index, entry in solo_optimizer.items():
        assert sorted(state["optimizer"]["state"][index]) == sorted(entry)


def train(cohort: Cohort, steps: int) -> dict[Any, list[float]]:
    """Step the cohort; each member's losses."""
    losses: dict[Any, list[float]] = {member: [] for member in cohort.ids}
    for _ in range(steps):
        result = cohort.step()
        for member, value in zip(result.ids, result.losses.tolist(), strict=True):
            losses[member].append(value)
    return losses


OPTIMIZERS = [
    {"name": "sgd"},
    {"name": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"name": "sgd", "momentum": 0.5},
    {"name": "adam", "beta1": 0.8, "weight_decay": 0.01},
    {"name": "adamw", "weight_decay": 0.1},
    {"name": "nadam"},
    {"name": "rmsprop", "momentum": 0.3, "alpha": 0.9},
    {"name": "rmsprop"},
    {"name": "adadelta", "rho": 0.8},
    {"name": "adagrad"},
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: "-".join(map(str, o.values())))
def test_every_optimizer_equals_solo(optimizer: dict[str, Any]) -> None:
    """Four members with their own seeds, data, lrs and L1/L2 follow their solo runs."""
    specs = [make_spec(seed, 0.01 * (seed + 1), optimizer,
                       regularization={"l1": 0.001 * (seed % 2), "l2": 0.002 * seed})
             for seed in range(4)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    losses = train(cohort, 30)
    for seed, spec in enumerate(specs):
        trainer, solo_losses = solo(spec, 30)
        assert_member_is_solo(cohort, seed, trainer, solo_losses, losses[seed])


LOSSES = [
    ("classification", "spiral", "mse"), ("classification", "spiral", "bce"),
    ("classification", "spiral", "cross_entropy"), ("classification", "spiral", "hinge"),
    ("classification", "spiral", "mae"), ("classification", "blobs", "mse"),
    ("classification", "blobs", "bce"), ("classification", "blobs", "hinge"),
    ("classification", "blobs", "cross_entropy"), ("regression", "plane", "huber"),
    ("regression", "multi_gaussian", "mse"),
]


@pytest.mark.parametrize(("task", "dataset", "loss"), LOSSES)
def test_every_loss_equals_solo(task: str, dataset: str, loss: str) -> None:
    """Each head's loss (binary, softmax, one-vs-rest, regression) batched equals solo."""
    specs = [make_spec(seed, 0.02 + 0.01 * seed, {"name": "adam"}, task=task, loss=loss,
                       dataset={"name": dataset, "n_samples": 100, "seed": seed, "classes": 4}
                       if dataset == "blobs" else {"name": dataset, "n_samples": 100,
                                                   "seed": seed},
                       batch_size=50 if loss == "mae" else 10)  # mae: the full batch
             for seed in range(3)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    losses = train(cohort, 25)
    for seed, spec in enumerate(specs):
        trainer, solo_losses = solo(spec, 25)
        assert_member_is_solo(cohort, seed, trainer, solo_losses, losses[seed])


def test_key_comes_from_structure_not_values() -> None:
    """Values (seed, lr, noise, init, L2) keep the key; shapes and kinds change it."""
    base = make_spec(0, 0.03)
    same = make_spec(5, 0.3, {"name": "sgd", "momentum": 0.9}, regularization={"l2": 0.1},
                     model={"layers": [{"units": 6, "activation": "tanh"},
                                       {"units": 5, "activation": "relu"}], "init": "normal"})
    assert cohort_key(base) == cohort_key(same) is not None
    for other in (make_spec(0, 0.03, {"name": "adam"}), make_spec(0, 0.03, batch_size=8),
                  make_spec(0, 0.03, features=["x1", "x2"]),
                  make_spec(0, 0.03, loss="bce"),
                  make_spec(0, 0.03, model={"layers": [{"units": 6, "activation": "tanh"},
                                                       {"units": 5}]})):
        assert cohort_key(other) != cohort_key(base)
    dropout = make_spec(0, 0.03, model={"layers": [{"units": 6}, {"type": "dropout"}]})
    assert cohort_key(dropout) is None
    assert "dropout" in (cohort_refusal(dropout) or "")
    images = parse_spec({"dataset": {"name": "digits", "n_samples": 100},
                         "model": {"layers": [{"units": 8}]}, "loss": "cross_entropy"})
    assert cohort_key(images) is None and "images" in (cohort_refusal(images) or "")
    gan = parse_spec({"task": "gan", "dataset": {"name": "digits"}})  # image GANs: solo
    assert cohort_key(gan) is None and "GAN pairs on images" in (cohort_refusal(gan) or "")
    with pytest.raises(ValueError, match="another structure"):
        Cohort(base).add("x", make_spec(0, 0.03, batch_size=8))


def test_join_and_leave_mid_run_leave_the_others_unchanged() -> None:
    """A member joining and another leaving at step 10 change nobody else's run."""
    optimizer = {"name": "adam"}
    specs = [make_spec(seed, 0.02 * (seed + 1), optimizer) for seed in range(4)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs[:3])])
    train(cohort, 10)
    left = cohort.remove(1)
    cohort.add(3, specs[3])
    assert cohort.ids == (0, 2, 3)
    train(cohort, 12)
    for seed, steps in ((0, 22), (2, 22), (3, 12)):
        assert_member_is_solo(cohort, seed, solo(specs[seed], steps)[0])
    # The member that left goes on solo as if it had never been in a cohort.
    resumed, _ = solo(specs[1], 12, left)
    trainer, _ = solo(specs[1], 22)
    assert_near(resumed.network.state_dict(), trainer.network.state_dict())


@pytest.mark.parametrize("optimizer", [{"name": "nadam"}, {"name": "sgd", "momentum": 0.8},
                                       {"name": "rmsprop", "momentum": 0.2}],
                         ids=lambda o: o["name"])
def test_state_round_trips_cohort_solo_cohort(optimizer: dict[str, Any]) -> None:
    """Cohort 8 steps -> solo 9 -> cohort 10 equals 27 solo steps (weights, moments, order)."""
    spec, other = make_spec(1, 0.02, optimizer), make_spec(2, 0.05, optimizer)
    cohort = Cohort(spec)
    cohort.add_many([("a", spec, None), ("b", other, None)])
    train(cohort, 8)
    middle, _ = solo(spec, 9, cohort.remove("a"))
    cohort.add("a", spec, middle.state_dict())
    train(cohort, 10)
    assert cohort.step_of("a") == 27
    assert_member_is_solo(cohort, "a", solo(spec, 27)[0])
    assert_member_is_solo(cohort, "b", solo(other, 18)[0])


def test_live_lr_change_applies_to_one_member() -> None:
    """Changing one member's lr at step 6 matches a solo run changed at step 6."""
    specs = [make_spec(seed, 0.05, {"name": "sgd", "momentum": 0.5}) for seed in range(3)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    train(cohort, 6)
    cohort.set_lr(1, 0.5)
    train(cohort, 6)
    assert cohort.lr_of(1) == 0.5 and cohort.lr_of(0) == 0.05
    trainer = Trainer(specs[1], TrainerOptions(snapshot_interval=0))
    for step in range(12):
        if step == 6:
            trainer.set_lr(0.5)
        trainer.train_step()
    assert_member_is_solo(cohort, 1, trainer)
    assert_member_is_solo(cohort, 0, solo(specs[0], 12)[0])
    assert cohort.export_state(1)["optimizer"]["param_groups"][0]["lr"] == 0.5
    with pytest.raises(ValueError, match="learning rate"):
        cohort.set_lr(0, -1.0)


def test_a_diverging_member_leaves_and_the_others_go_on() -> None:
    """A member with a huge lr is flagged at its solo run's failing step; others are solo."""
    def regression(seed: int, lr: float) -> ExperimentSpec:
        return make_spec(seed, lr, {"name": "sgd"}, task="regression", loss="mse",
                         dataset={"name": "plane", "n_samples": 100, "seed": seed},
                         model={"layers": [{"units": 6, "activation": "relu"}],
                                "init": "normal"})

    specs = [regression(0, 0.01), regression(1, 10.0), regression(2, 0.02)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    trainer = Trainer(specs[1], TrainerOptions(snapshot_interval=0))
    with pytest.raises(Diverged) as failure:
        for _ in range(200):
            trainer.train_step()
    flagged: dict[Any, str] = {}
    steps = 0
    while not flagged and steps < 200:
        flagged = cohort.step().diverged
        steps += 1
    assert flagged == {1: str(failure.value)}
    assert cohort.ids == (0, 2)
    train(cohort, 5)
    assert_member_is_solo(cohort, 0, solo(specs[0], steps + 5)[0])
    assert_member_is_solo(cohort, 2, solo(specs[2], steps + 5)[0])


def test_classroom_mix_of_presets_equals_solo() -> None:
    """Five presets, two members each (own seeds and lrs), form cohorts by key; every
    member equals its solo run, and the presets that share a key share a cohort."""
    picks = (("spiral", None), ("optimizers", "Adam"), ("circle", None),
             ("batch-vs-online", "mini-batch (10)"), ("overfitting", None))
    specs = []
    for i in range(10):
        name, label = picks[i % 5]
        runs = get_preset(name).race()
        base = runs[0][1] if label is None else next(s for run, s in runs if run == label)
        lr = base.optimizer.lr * (1 + i / 10)
        specs.append(base.model_copy(update={
            "seed": i, "dataset": base.dataset.model_copy(update={"seed": i}),
            "optimizer": base.optimizer.model_copy(update={"lr": lr})}))
    cohorts: dict[Any, Cohort] = {}
    for i, spec in enumerate(specs):
        key = cohort_key(spec)
        assert key is not None
        cohorts.setdefault(key, Cohort(spec)).add(i, spec)
    assert sorted(len(c) for c in cohorts.values()) == [2, 4, 4]
    for cohort in cohorts.values():
        train(cohort, 12)
        for member in cohort.ids:
            assert_member_is_solo(cohort, member, solo(specs[member], 12)[0])


@pytest.mark.parametrize(("task", "dataset", "loss"), [
    ("classification", "spiral", "bce"), ("classification", "blobs", "cross_entropy"),
    ("regression", "plane", "mse")])
def test_batched_metrics_equal_each_solo_evaluate(task: str, dataset: str, loss: str) -> None:
    """`Cohort.evaluate()` gives each member its solo `Trainer.evaluate()` figures."""
    specs = [make_spec(seed, 0.03, {"name": "sgd", "momentum": 0.5}, task=task, loss=loss,
                       dataset={"name": dataset, "n_samples": 100, "seed": seed},
                       regularization={"l2": 0.01})
             for seed in range(3)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    train(cohort, 15)
    metrics = cohort.evaluate(confusion=True)
    assert metrics.ids == (0, 1, 2)
    for seed, spec in enumerate(specs):
        event = solo(spec, 15)[0].evaluate(detailed=True)
        if task == "classification":  # the detailed point's class report, counted batched
            assert metrics.confusion is not None
            report = report_from_confusion(metrics.confusion[seed]).to_dict()
            assert report == event.report
        else:
            assert metrics.confusion is None and event.report is None
        assert metrics.test_loss is not None
        got = [float(metrics.train_loss[seed]), float(metrics.test_loss[seed])]
        torch.testing.assert_close(got, [event.train_loss, event.test_loss], **TOL)
        if task == "classification":
            assert metrics.train_accuracy is not None and metrics.test_accuracy is not None
            assert float(metrics.train_accuracy[seed]) == pytest.approx(event.train_accuracy)
            assert float(metrics.test_accuracy[seed]) == pytest.approx(event.test_accuracy)
        else:
            assert metrics.train_accuracy is None
