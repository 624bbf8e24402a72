"""The data-kind registry: every dataset has a kind that loads it and says what applies."""

from __future__ import annotations

from nnplay.api.frames import FRAME_TYPES
from nnplay.data import Dataset, GanData
from nnplay.data.kinds import DATA_KINDS, kind_of, load_data
from nnplay.models.layers import LAYER_TYPES
from nnplay.spec import DATASET_KINDS, DataKindName, DatasetName, SpecError, parse_spec

DATA_FRAMES = {"points", "images"}  # sent once per viewer, not per snapshot


def test_every_dataset_has_a_registered_kind() -> None:
    assert set(DATASET_KINDS) == set(DatasetName)
    assert set(DATASET_KINDS.values()) <= set(DATA_KINDS)
    listed = [name for kind in DATA_KINDS.values() for name in kind.datasets()]
    assert sorted(listed) == sorted(DatasetName)


def test_kinds_name_only_registered_layers_and_frames() -> None:
    for kind in DATA_KINDS.values():
        assert set(kind.layer_types) <= set(LAYER_TYPES)
        assert set(kind.frames) <= set(FRAME_TYPES) | DATA_FRAMES


def test_points_load_labelled_data_or_gan_samples() -> None:
    supervised = parse_spec({"dataset": {"name": "spiral", "n_samples": 100}})
    assert kind_of(supervised).name == DataKindName.points2d
    data = load_data(supervised)
    assert isinstance(data, Dataset) and data.points_train.shape[1] == 2
    gan = parse_spec({"task": "gan", "dataset": {"name": "ring", "n_samples": 100}})
    real = load_data(gan)
    assert isinstance(real, GanData) and tuple(real.real.shape) == (100, 2)
    assert kind_of(gan).sample_shape(DatasetName.ring) == (2,)


def test_images_load_with_the_kind_input_shape() -> None:
    spec = parse_spec({"task": "gan", "dataset": {"name": "digits", "n_samples": 50}})
    kind = kind_of(spec)
    assert kind.name == DataKindName.image
    data = load_data(spec)
    assert isinstance(data, GanData)
    channels, height, width = kind.sample_shape(DatasetName.digits)
    assert (channels, height, width) == (1, 8, 8)
    assert data.image_shape == (height, width) and data.real.shape == (50, height * width)
    assert kind.load_set is not None
    raw = kind.load_set("digits", None)
    assert raw.shape == (height, width) and raw.images.shape[0] == 1797


def test_catalog_lists_kinds_with_shapes_tasks_and_layers() -> None:
    entries = {kind.name.value: kind.catalog() for kind in DATA_KINDS.values()}
    assert entries["image"]["datasets"] == [
        {"name": "digits", "input_shape": [1, 8, 8]}, {"name": "mnist", "input_shape": [1, 28, 28]},
        {"name": "fashion_mnist", "input_shape": [1, 28, 28]}]
    assert "conv2d" in entries["image"]["layer_types"]
    assert "conv2d" not in entries["points2d"]["layer_types"]
    assert set(entries["points2d"]["tasks"]) == {"classification", "regression", "gan"}
    assert entries["image"]["tasks"] == ["classification", "gan"]


def test_the_spec_asks_the_kind_which_layers_apply() -> None:
    try:
        parse_spec({"dataset": {"name": "circle"}, "model": {"layers": [{"type": "conv2d"}]}})
    except SpecError as error:
        assert "model.layers.0.type 'conv2d' needs image or sequence data" in str(error)
        assert "'dense', 'dropout' and 'batchnorm'" in str(error)
    else:
        raise AssertionError("a conv layer on 2-D points was accepted")


def test_the_sequence_kind_lists_its_sets_layers_and_frames() -> None:
    entry = DATA_KINDS[DataKindName.sequence].catalog()
    shapes = {item["name"]: item["input_shape"] for item in entry["datasets"]}
    assert shapes["sine"] == [20, 1] and shapes["memory"] == [20, 4]
    assert shapes["text"][0] == 20 and shapes["text"][1] > 30  # the sonnets' characters
    assert entry["layer_types"] == ["rnn", "gru", "lstm", "dense", "dropout"]
    assert entry["tasks"] == ["classification", "regression"]
    assert entry["frames"] == ["hidden_state", "gates", "sequence", "gradient_norms", "sample"]
