"""Tests for the GAN fields of the spec: defaults, limits and readable refusals."""

from __future__ import annotations

from typing import Any

import pytest

from nnplay.catalog import build_catalog
from nnplay.spec import (
    DATASET_TASKS,
    LIMITS,
    Conv2dLayer,
    DatasetName,
    DenseLayer,
    ExperimentSpec,
    GanLoss,
    NoiseKind,
    OptimizerName,
    SpecError,
    Task,
    default_discriminator,
    default_generator,
    parse_spec,
    spec_to_dict,
)

TRIANGLE = [[-2.0, -1.0], [2.0, -1.0], [0.0, 2.5]]


def gan(**fields: Any) -> dict[str, Any]:
    """A GAN spec dict on the ring unless `dataset` says otherwise."""
    return {"task": "gan", "dataset": {"name": "ring"}, **fields}


def messages(data: dict[str, Any]) -> str:
    """The refusal messages of `data`, joined (the spec must be refused)."""
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    return "\n".join(caught.value.messages)


def test_minimal_gan_spec_gets_defaults() -> None:
    spec = parse_spec({"task": "gan", "dataset": {"name": "ring"}})
    assert spec.task == Task.gan
    assert (spec.latent_dim, spec.noise, spec.gan_loss) == (2, NoiseKind.gaussian,
                                                            GanLoss.non_saturating)
    assert (spec.d_steps, spec.g_steps, spec.gradient_penalty) == (1, 1, 10.0)
    assert spec.generator == default_generator(DatasetName.ring)
    assert spec.discriminator == default_discriminator(DatasetName.ring)
    assert spec.train_size == spec.dataset.n_samples  # no test split for a GAN
    assert parse_spec(spec_to_dict(spec)) == spec  # the filled-in spec round-trips


def test_digits_get_bigger_default_networks() -> None:
    spec = parse_spec(gan(dataset={"name": "digits"}))
    assert spec.generator == default_generator(DatasetName.digits)
    assert isinstance(spec.generator.layers[0], DenseLayer)
    assert spec.generator.layers[0].units == 128


def test_gan_optimizers_fall_back_to_optimizer() -> None:
    spec = parse_spec(gan(optimizer={"name": "adam", "lr": 0.002}))
    g_opt, d_opt = spec.gan_optimizers()
    assert g_opt.lr == d_opt.lr == 0.002
    spec = parse_spec(gan(optimizer={"name": "adam", "lr": 0.002},
                          d_optimizer={"name": "sgd", "lr": 0.05}))
    g_opt, d_opt = spec.gan_optimizers()
    assert (g_opt.name, g_opt.lr, d_opt.name, d_opt.lr) == (OptimizerName.adam, 0.002,
                                                           OptimizerName.sgd, 0.05)


def test_supervised_specs_leave_the_gan_fields_unset() -> None:
    spec = ExperimentSpec()
    assert spec.generator is None and spec.discriminator is None
    assert spec.g_optimizer is None and spec.d_optimizer is None


@pytest.mark.parametrize("name", ["gaussians", "spiral", "moons"])
def test_shared_datasets_serve_both_tasks(name: str) -> None:
    assert parse_spec({"dataset": {"name": name}}).task == Task.classification
    assert parse_spec(gan(dataset={"name": name})).task == Task.gan


def test_gan_target_with_classification_task_names_both() -> None:
    text = messages({"dataset": {"name": "ring"}})
    assert "dataset.name 'ring' is a GAN target" in text
    assert "for task 'classification' use one of:" in text and "spiral" in text


def test_regression_dataset_with_gan_task_lists_the_gan_targets() -> None:
    text = messages(gan(dataset={"name": "plane"}))
    assert "dataset.name 'plane' is a regression dataset" in text
    targets = sorted(n.value for n, tasks in DATASET_TASKS.items() if Task.gan in tasks)
    assert ", ".join(targets) in text


def test_a_drawn_target_is_accepted() -> None:
    spec = parse_spec(gan(dataset={"name": "drawn", "points": TRIANGLE}))
    assert spec.dataset.points == [tuple(point) for point in TRIANGLE]


@pytest.mark.parametrize(("points", "detail"), [
    (None, "needs the drawn points"),
    ([[0, 0], [1, 1]], "(got 2 points)"),
    ([[0, 0]] * (LIMITS.max_drawn_points + 1), f"(got {LIMITS.max_drawn_points + 1} points)"),
    ([[0, 0], [1, 1], [7, 0]], "point 2 is [7, 0], outside the domain"),
    ([[0, 0], [1, 1], [0, -6.5]], "point 2 is [0, -6.5], outside the domain"),
    ([[0, 0], [1, 1], [1, 2, 3]], "point 2 is [1, 2, 3]"),
    ([[0, 0], [1, 1], ["a", 1]], "point 2 is ['a', 1]"),
    ([[0, 0], [1, 1], [float("nan"), 1]], "outside the domain"),
    ("scribble", "[x1, x2] points"),
])
def test_a_malformed_drawn_target_is_refused_clearly(points: Any, detail: str) -> None:
    dataset: dict[str, Any] = {"name": "drawn"}
    if points is not None:
        dataset["points"] = points
    text = messages(gan(dataset=dataset))
    assert text.startswith("dataset.points: ")
    assert detail in text
    assert "3 to 2000" in text and "-6 and 6" in text


def test_points_on_another_dataset_are_refused() -> None:
    text = messages(gan(dataset={"name": "ring", "points": TRIANGLE}))
    assert "dataset.points: only the 'drawn' GAN target takes points" in text


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("latent_dim", 0, "latent_dim: must be between 1 and 64 (got 0)"),
    ("latent_dim", 65, "latent_dim: must be between 1 and 64 (got 65)"),
    ("d_steps", 11, "d_steps: must be between 1 and 10 (got 11)"),
    ("g_steps", 0, "g_steps: must be between 1 and 10 (got 0)"),
    ("gradient_penalty", 1000, "gradient_penalty: must be between 0 and 100 (got 1000)"),
])
def test_gan_numbers_name_their_range(field: str, value: Any, expected: str) -> None:
    assert expected in messages(gan(**{field: value}))


def test_modes_name_their_range() -> None:
    text = messages(gan(dataset={"name": "gaussians", "modes": 30}))
    assert "dataset.modes: must be between 2 and 25 (got 30)" in text


def test_unknown_gan_loss_and_noise_list_the_choices() -> None:
    text = messages(gan(gan_loss="wgan", noise="pink"))
    assert "gan_loss" in text and "wasserstein_gp" in text and "least_squares" in text
    assert "noise" in text and "gaussian" in text and "uniform" in text


def test_network_fields_are_checked_with_their_path() -> None:
    text = messages(gan(generator={"layers": [{"units": 300}]},
                        d_optimizer={"name": "adam", "lr": 100}))
    assert "generator.layers.0.units: must be between 1 and 256 (got 300)" in text
    assert "d_optimizer.lr: must be between 1e-06 and 10 (got 100)" in text


def test_conv_layers_on_2d_targets_are_refused() -> None:
    text = messages(gan(discriminator={"layers": [{"type": "conv2d"}]}))
    assert "discriminator.layers.0.type 'conv2d' cannot be used here" in text
    assert "2-D GANs take 'dense', 'dropout' and 'batchnorm' layers" in text


def test_a_small_conv_discriminator_on_digits_is_accepted() -> None:
    spec = parse_spec(gan(dataset={"name": "digits"}, discriminator={"layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1},
        {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"units": 32}]}))
    assert spec.discriminator is not None
    assert isinstance(spec.discriminator.layers[0], Conv2dLayer)


@pytest.mark.parametrize(("layers", "expected"), [
    ([{"type": "conv2d", "kernel_size": 7}, {"type": "maxpool2d", "kernel_size": 3}],
     "discriminator.layers.1.kernel_size 3 does not fit the 2x2 feature map"),
    ([{"units": 16}, {"type": "conv2d"}],
     "discriminator.layers.1.type 'conv2d' cannot follow a dense or flatten layer"),
    ([{"type": "lstm"}], "discriminator.layers.0.type 'lstm' needs sequence data"),
])
def test_impossible_conv_stacks_are_refused(layers: list[dict[str, Any]], expected: str) -> None:
    assert expected in messages(gan(dataset={"name": "digits"},
                                    discriminator={"layers": layers}))


def test_a_conv_generator_is_refused() -> None:
    text = messages(gan(dataset={"name": "digits"}, generator={"layers": [{"type": "conv2d"}]}))
    assert "generator.layers.0.type 'conv2d' cannot be used here" in text


def test_batch_larger_than_the_real_set_is_refused() -> None:
    text = messages(gan(dataset={"name": "ring", "n_samples": 100}, batch_size=200))
    assert "batch_size 200 is larger than the real sample set" in text
    assert "use 1 to 100" in text


def test_more_digits_than_exist_are_refused() -> None:
    text = messages(gan(dataset={"name": "digits", "n_samples": 3000}))
    assert "dataset.n_samples: the digits set has 1797 images" in text


def test_batchnorm_rules() -> None:
    text = messages(gan(batch_size=1, generator={"layers": [{"units": 8},
                                                            {"type": "batchnorm"}]}))
    assert "batch_size 1 cannot train the generator's batchnorm layer" in text
    text = messages(gan(gan_loss="wasserstein_gp",
                        discriminator={"layers": [{"units": 8}, {"type": "batchnorm"}]}))
    assert "breaks the gradient penalty" in text


def test_catalog_lists_the_gan_menus() -> None:
    catalog = build_catalog()
    assert "gan" in catalog["tasks"]
    menus = catalog["gan"]
    assert set(menus["targets"]) == {n.value for n, t in DATASET_TASKS.items() if Task.gan in t}
    assert [loss["name"] for loss in menus["losses"]] == [loss.value for loss in GanLoss]
    assert [noise["name"] for noise in menus["noises"]] == [kind.value for kind in NoiseKind]
    assert menus["limits"]["max_latent_dim"] == LIMITS.max_latent_dim
    assert menus["defaults"]["generator"]["images"]["layers"][0]["units"] == 128
    assert "conv2d" in [t["name"] for t in menus["layer_types"]["discriminator_images"]]
    ring = next(d for d in catalog["datasets"] if d["name"] == "ring")
    assert ring["task"] == "gan" and ring["tasks"] == ["gan"]
    spiral = next(d for d in catalog["datasets"] if d["name"] == "spiral")
    assert spiral["task"] == "classification" and spiral["tasks"] == ["classification", "gan"]
    presets = {p["name"]: p["task"] for p in catalog["presets"]}
    assert presets["gan-digits"] == "gan" and presets["spiral"] == "classification"
