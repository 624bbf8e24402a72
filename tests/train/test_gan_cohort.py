"""GAN cohorts: GAN pairs trained as stacked networks equal their solo `GanTrainer` runs.

Every comparison runs the real solo trainer on the same spec and checks each member's
weights (both networks, distance over norm within 1e-5), per-iteration generator losses
and optimizer state against it. The batched kernels sum in another order than the solo
ones, so exact equality is not expected.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.cohort_key import cohort_key, cohort_refusal
from nnplay.train.gan import GanTrainer
from nnplay.train.gan_cohort import GanCohort
from nnplay.train.loop import Diverged, TrainerOptions

ITERATIONS = 25
TOL = {"rtol": 1e-5, "atol": 1e-6}  # per loss value
RELATIVE = 1e-5  # the distance of a network's weights over their norm


def gan_spec(seed: int, lr: float, **extra: Any) -> ExperimentSpec:
    """A small ring GAN (8-unit networks, batches of 16 from 200 points); `extra` overrides."""
    return parse_spec({
        "task": "gan", "dataset": {"name": "ring", "n_samples": 200, "seed": seed,
                                   "noise": 0.1 * seed},
        "generator": {"layers": [{"units": 8, "activation": "relu"},
                                 {"units": 8, "activation": "tanh"}]},
        "discriminator": {"layers": [{"units": 8, "activation": "leaky_relu"}]},
        "optimizer": {"name": "adam", "lr": lr, "beta1": 0.5}, "batch_size": 16,
        "seed": seed, "max_steps": 1000, **extra})


def solo(spec: ExperimentSpec, iterations: int, state: dict[str, Any] | None = None
         ) -> tuple[GanTrainer, list[float]]:
    """The solo trainer of `spec` after `iterations` (from `state` if given), and its losses."""
    trainer = GanTrainer(spec, TrainerOptions(snapshot_interval=0, metrics_interval=0))
    if state is not None:
        trainer.load_state_dict(state)
    return trainer, [trainer.train_step() for _ in range(iterations)]


def train(cohort: GanCohort, iterations: int) -> dict[Any, list[float]]:
    """Iterate the cohort; each member's generator losses."""
    losses: dict[Any, list[float]] = {member: [] for member in cohort.ids}
    for _ in range(iterations):
        result = cohort.step()
        for member, value in zip(result.ids, result.losses.tolist(), strict=True):
            losses[member].append(value)
    return losses


def assert_member_is_solo(cohort: GanCohort, member: Any, trainer: GanTrainer,
                          losses: list[float] | None = None,
                          cohort_losses: list[float] | None = None) -> None:
    """The member's weights, step, lrs and optimizer state (and losses) equal the solo run's."""
    state = cohort.export_state(member)
    expected = trainer.network.state_dict()
    assert sorted(state["network"]) == sorted(expected)
    for prefix in ("generator.", "discriminator."):
        names = [name for name in sorted(expected) if name.startswith(prefix)]
        a = torch.cat([state["network"][name].flatten() for name in names])
        b = torch.cat([expected[name].flatten() for name in names])
        distance = float((a - b).norm())
        assert distance <= RELATIVE * float(b.norm()), f"{prefix} weights at {distance:.3g}"
    assert state["step"] == trainer.step
    assert (state["g_lr"], state["d_lr"]) == (trainer.g_lr, trainer.d_lr)
    assert torch.equal(state["gan_rng"], trainer.state_dict()["gan_rng"])  # the same draws
    for which in ("g_optimizer", "d_optimizer"):
        ours, theirs = state[which]["state"], getattr(trainer, which).state_dict()["state"]
        assert sorted(ours) == sorted(theirs)
        for index, entry in theirs.items():
            assert sorted(ours[index]) == sorted(entry)
            for name, value in entry.items():
                torch.testing.assert_close(ours[index][name], value, rtol=1e-4, atol=1e-6)
    if losses is not None and cohort_losses is not None:
        torch.testing.assert_close(torch.tensor(cohort_losses), torch.tensor(losses), **TOL)


CASES = [  # (gan_loss and what goes with it, optimizers)
    ({"gan_loss": "non_saturating"}, {}),  # the GAN presets' Adam (beta1 0.5)
    ({"gan_loss": "minimax", "noise": "uniform"},
     {"optimizer": {"name": "sgd", "lr": 0.02, "momentum": 0.9}}),
    ({"gan_loss": "least_squares", "g_steps": 2},
     {"g_optimizer": {"name": "rmsprop", "lr": 0.001},
      "d_optimizer": {"name": "adamw", "lr": 0.002, "weight_decay": 0.1}}),
    ({"gan_loss": "wasserstein_gp", "d_steps": 3}, {}),
    ({"gan_loss": "wasserstein_gp", "batch_size": 200},  # full batch: no index draws
     {"optimizer": {"name": "nadam", "lr": 0.002}}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(
    str(v) for part in c for v in part.values() if not isinstance(v, dict)) or "adam")
def test_every_gan_loss_equals_solo(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Three members with their own seeds, targets and lrs follow their solo runs."""
    objective, optimizers = case
    specs = [gan_spec(seed, 0.001 * (seed + 1), **objective, **optimizers,
                      gradient_penalty=5.0 + seed) for seed in range(3)]
    cohort = GanCohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    losses = train(cohort, ITERATIONS)
    for seed, spec in enumerate(specs):
        trainer, solo_losses = solo(spec, ITERATIONS)
        assert_member_is_solo(cohort, seed, trainer, solo_losses, losses[seed])


def test_join_leave_and_live_lr_leave_the_others_unchanged() -> None:
    """A member joining, another leaving and a third's generator lr changing at iteration
    10 change nobody else's run; the changed one equals a solo run changed alike."""
    specs = [gan_spec(seed, 0.001 * (seed + 1)) for seed in range(4)]
    cohort = GanCohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs[:3])])
    train(cohort, 10)
    left = cohort.remove(1)
    cohort.add(3, specs[3])
    cohort.set_lr(2, 0.0005, "g")
    assert (cohort.lr_of(2, "g"), cohort.lr_of(2, "d")) == (0.0005, 0.003)
    train(cohort, 10)
    assert cohort.ids == (0, 2, 3) and cohort.step_of(3) == 10
    assert_member_is_solo(cohort, 0, solo(specs[0], 20)[0])
    assert_member_is_solo(cohort, 3, solo(specs[3], 10)[0])
    changed, _ = solo(specs[2], 10)
    changed.set_lr(0.0005, "g")
    changed.train_step()
    for _ in range(9):
        changed.train_step()
    assert_member_is_solo(cohort, 2, changed)
    gone, _ = solo(specs[1], 10)
    assert_member_is_solo_state(left, gone)
    with pytest.raises(ValueError, match="target"):
        cohort.set_lr(0, 0.1, "both")


def assert_member_is_solo_state(state: dict[str, Any], trainer: GanTrainer) -> None:
    """A removed member's state (the solo format) equals the solo trainer's."""
    expected = trainer.state_dict()
    assert sorted(state) == sorted(expected)
    assert state["step"] == expected["step"]
    for name, weight in expected["network"].items():
        torch.testing.assert_close(state["network"][name], weight, rtol=1e-5, atol=1e-6)


def test_state_round_trips_cohort_solo_cohort() -> None:
    """Members go solo mid-run and back into a fresh cohort; every run stays its solo run."""
    specs = [gan_spec(seed, 0.002, gan_loss="wasserstein_gp", d_steps=2) for seed in range(3)]
    cohort = GanCohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    train(cohort, 8)
    states = [cohort.remove(seed) for seed in range(3)]
    assert len(cohort) == 0
    trainers = [solo(spec, 5, state)[0] for spec, state in zip(specs, states, strict=True)]
    again = GanCohort(specs[0])
    again.add_many([(seed, spec, trainer.state_dict())
                    for seed, (spec, trainer) in enumerate(zip(specs, trainers, strict=True))])
    train(again, 7)
    for seed, spec in enumerate(specs):
        assert_member_is_solo(again, seed, solo(spec, 20)[0])


def test_a_diverging_member_leaves_alone() -> None:
    """A member with a huge lr leaves with its solo run's reason; the others go on as solo."""
    kind = {"gan_loss": "wasserstein_gp", "gradient_penalty": 0.0}  # an unbounded critic
    calm = [gan_spec(seed, 0.01, **kind, optimizer={"name": "sgd", "lr": 0.01})
            for seed in (0, 2)]
    wild = gan_spec(1, 10.0, **kind, optimizer={"name": "sgd", "lr": 10.0})
    cohort = GanCohort(wild)
    cohort.add_many([(0, calm[0], None), (1, wild, None), (2, calm[1], None)])
    reason, step = None, 0
    while reason is None and step < 40:
        result = cohort.step()
        step += 1
        reason = result.diverged.get(1)
    assert reason is not None and cohort.ids == (0, 2)
    trainer = GanTrainer(wild, TrainerOptions(snapshot_interval=0, metrics_interval=0))
    with pytest.raises(Diverged) as failure:
        for _ in range(step):
            trainer.train_step()
    assert str(failure.value) == reason  # the same step, loss and wording
    for seed, spec in zip((0, 2), calm, strict=True):
        assert_member_is_solo(cohort, seed, solo(spec, step)[0])


def test_the_gan_presets_that_should_stack_get_a_key() -> None:
    """The 2-D GAN presets form cohorts (ring and gaussians together); values never split
    one; structure does; image GANs are refused with a reason."""
    ring, gaussians, collapse = (get_preset(name).build({"seed": 3}) for name in
                                 ("gan-ring", "gan-gaussians", "gan-mode-collapse"))
    assert cohort_key(ring) is not None and cohort_key(ring) == cohort_key(gaussians)
    assert cohort_key(collapse) is not None and cohort_key(collapse) != cohort_key(ring)
    base = gan_spec(0, 0.001)
    same = gan_spec(5, 0.03, optimizer={"name": "adam", "lr": 0.03, "beta1": 0.9},
                    d_optimizer={"name": "adam", "lr": 0.1}, gradient_penalty=2.0)
    assert cohort_key(base) == cohort_key(same)
    for other in (gan_spec(0, 0.001, latent_dim=3), gan_spec(0, 0.001, noise="uniform"),
                  gan_spec(0, 0.001, d_steps=2), gan_spec(0, 0.001, batch_size=8),
                  gan_spec(0, 0.001, gan_loss="least_squares"),
                  gan_spec(0, 0.001, d_optimizer={"name": "sgd"}),
                  gan_spec(0, 0.001, discriminator={"layers": [{"units": 9}]})):
        assert cohort_key(other) != cohort_key(base)
    wgan = gan_spec(0, 0.001, gan_loss="wasserstein_gp")
    assert cohort_key(wgan) != cohort_key(gan_spec(0, 0.001, gan_loss="wasserstein_gp",
                                                   gradient_penalty=0.0))  # penalty on/off
    digits = get_preset("gan-digits").build({})
    assert cohort_key(digits) is None
    assert "GAN pairs on images" in (cohort_refusal(digits) or "")
    dropout = gan_spec(0, 0.001, discriminator={"layers": [{"units": 8}, {"type": "dropout"}]})
    assert "discriminator.layers.1" in (cohort_refusal(dropout) or "")
    with pytest.raises(ValueError, match="another structure"):
        GanCohort(base).add("x", gan_spec(0, 0.001, d_steps=2))
    with pytest.raises(ValueError, match="GAN specs"):
        GanCohort(parse_spec({"task": "regression", "dataset": {"name": "plane"},
                              "loss": "mse"}))
