"""The `nnplay` command: train in the terminal, list presets, serve the playground."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

# torch is imported only by the commands that train (about 2 s), so `--help` is instant.
from nnplay.config import Settings
from nnplay.presets import PRESETS, Preset, UnknownPreset, get_preset
from nnplay.spec import ExperimentSpec, SpecError, parse_spec, set_dotted
from nnplay.train.callbacks import Callback
from nnplay.train.events import AnyMetricsEvent, GanMetricsEvent, RunStatus, TrainResult

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class ProgressBar(Callback):
    """Shows steps, loss, accuracy and steps/s on stderr (GANs: D and G loss, distance)."""

    def __init__(self, total: int, label: str) -> None:
        self.bar = tqdm(total=total, desc=label or "train", unit="step", file=sys.stderr,
                        dynamic_ncols=True, leave=True)

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        self.bar.update(event.step - self.bar.n)
        if isinstance(event, GanMetricsEvent):
            shown: dict[str, Any] = {"d_loss": f"{event.d_loss:.3f}",
                                     "g_loss": f"{event.g_loss:.3f}",
                                     "distance": f"{event.distance:.3f}"}
            if event.score is not None:
                shown["score"] = f"{event.score:.2f}"
            shown["steps/s"] = f"{event.steps_per_second:.0f}"
            self.bar.set_postfix(shown, refresh=False)
            return
        shown = {"loss": f"{event.train_loss:.4f}"}
        if event.test_loss is not None:
            shown["test"] = f"{event.test_loss:.4f}"
        if event.test_accuracy is not None:
            shown["acc"] = f"{event.test_accuracy:.3f}"
        shown["steps/s"] = f"{event.steps_per_second:.0f}"
        self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, result: TrainResult) -> None:
        self.bar.update(result.steps - self.bar.n)
        self.bar.close()


# Numbers JSON does not read but a person types: .5, 5., +2, 1e-3 is JSON already.
_LOOSE_NUMBER = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def _parse_value(text: str) -> Any:
    """A `--set` value: JSON (`0.1`, `true`, `[...]`), a number such as `.5`, or a bare word.

    The spec takes numbers strictly, so number-looking text is converted here, once.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if _LOOSE_NUMBER.fullmatch(text):
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return text  # bare words such as `relu` are strings


def _apply_sets(data: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """`data` with each `--set dotted.key=value` applied in order (list indices allowed)."""
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError([f"--set {item!r}: expected dotted.key=value"])
        try:
            # Parts of the path the data leaves to the defaults (e.g. a preset's
            # layers) come from the full spec, so `model.layers.0.units` works.
            resolved: dict[str, Any] | None = parse_spec(data).model_dump(mode="json")
        except SpecError:
            resolved = None
        try:
            data = set_dotted(data, key.strip(), _parse_value(value.strip()), resolved)
        except SpecError as error:
            raise SpecError([f"--set {message}" for message in error.messages]) from None
    return data


def _load_specs(args: argparse.Namespace) -> list[tuple[str, ExperimentSpec]]:
    preset: Preset | None = None
    data: dict[str, Any] = {}
    if args.preset:
        preset = get_preset(args.preset)
    elif not args.spec:
        raise SpecError(["give a spec file or --preset NAME (see `nnplay presets`)"])
    else:
        path = Path(args.spec)
        try:
            data = json.loads(path.read_text())
        except OSError as error:
            raise SpecError([f"cannot read {path}: {error.strerror}"]) from None
        except json.JSONDecodeError as error:
            raise SpecError([f"{path} is not valid JSON: {error}"]) from None
        if not isinstance(data, dict):
            raise SpecError([f"{path} must hold a JSON object"])
        if "preset" in data:
            name, data = data["preset"], data.get("overrides", {})
            if not isinstance(name, str) or not isinstance(data, dict):
                raise SpecError([f"{path}: 'preset' must be a preset name and 'overrides' an "
                                 "object of spec fields"])
            preset = get_preset(name)
    if preset is not None:
        data = preset.spec_dict(data)  # a race's variants still apply over this
    data = _apply_sets(data, args.set or [])
    if args.steps is not None:
        data["max_steps"] = args.steps
    if preset is not None:
        return preset.race(data)
    spec = parse_spec(data)
    return [(spec.name or Path(args.spec).stem, spec)]


def _strict_json(value: Any) -> Any:
    """`value` with every non-finite number (a diverged loss) turned into None (JSON null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(item) for item in value]
    return value


def _train(args: argparse.Namespace) -> int:
    try:
        runs = _load_specs(args)
    except (SpecError, UnknownPreset) as error:
        messages = error.messages if isinstance(error, SpecError) else [str(error)]
        for message in messages:
            print(f"nnplay: invalid spec: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        print("nnplay: preparing… (loading torch)", file=sys.stderr, flush=True)
    import torch

    from nnplay.train.allocator import keep_freed_memory
    from nnplay.train.trainer import TrainerOptions, make_trainer, warm_up

    torch.set_num_threads(args.threads)
    keep_freed_memory()
    if not args.quiet:
        warm_up()  # torch's lazy imports, so the progress bar moves from its first draw
    # The server's data dir: its IDX files and the MNIST cache (converted once, not per run).
    data_dir = Path(args.data_dir) if args.data_dir else Settings().data_dir
    summaries = []
    for label, spec in runs:
        options = TrainerOptions(device=args.device, snapshot_interval=0,
                                 metrics_interval=0.1, data_dir=data_dir)
        if not args.quiet:
            options.callbacks.append(ProgressBar(spec.max_steps, label))
        try:
            result = make_trainer(spec, options).run()
        except ValueError as error:  # e.g. cuda requested but absent
            print(f"nnplay: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        summary = result.summary()
        if result.status == RunStatus.failed and not args.quiet:
            print(f"nnplay: {label}: {result.reason}", file=sys.stderr)
        summaries.append({"label": label, **summary} if len(runs) > 1 else summary)
    output = summaries[0] if len(summaries) == 1 else {"race": summaries}
    # Strict JSON (no Infinity or NaN), which every JSON parser accepts.
    print(json.dumps(_strict_json(output), allow_nan=False))
    failed = any(s["status"] == RunStatus.failed.value for s in summaries)
    return EXIT_FAILED if failed else 0


def _presets(args: argparse.Namespace) -> int:
    width = max(len(name) for name in PRESETS)
    for preset in PRESETS.values():
        race = f" (race of {len(preset.variants)})" if preset.variants else ""
        print(f"{preset.name:<{width}}  {preset.summary}{race}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from nnplay.api.server import serve  # the web stack loads only when serving

    overrides = {key: value for key, value in {
        "host": args.host, "port": args.port, "data_dir": args.data_dir,
        "device": args.device, "max_running_jobs": args.max_jobs, "workers": args.workers,
        "token": args.token, "admin_token": args.admin_token,
        "no_token": True if args.no_token else None,
        "allow_hosts": ",".join(args.allow_host) if args.allow_host else None,
        "executor": args.executor, "ray_address": args.ray_address,
    }.items() if value is not None}
    return serve(overrides)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="nnplay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a spec or preset in the terminal")
    train.add_argument("spec", nargs="?", help="path to a spec JSON file")
    train.add_argument("--preset", help="train a preset instead of a file")
    train.add_argument("--steps", type=int, help="override max_steps")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a field, e.g. --set optimizer.lr=0.1 (repeatable)")
    train.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--data-dir", dest="data_dir",
                       help="image sets and their cache (default: NNPLAY_DATA_DIR or data)")
    train.set_defaults(func=_train)

    presets = sub.add_parser("presets", help="list the presets (lessons)")
    presets.set_defaults(func=_presets)

    serve = sub.add_parser("serve", help="start the playground server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for a class)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", dest="data_dir")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"])
    serve.add_argument("--max-jobs", dest="max_jobs", type=int,
                       help="jobs that train at once; the rest queue")
    serve.add_argument("--workers", type=int,
                       help="worker processes that train jobs (default: one per CPU core; "
                            "0: threads in the server process)")
    serve.add_argument("--token", help="class token (default: generated when --host is not "
                       "loopback; on loopback, setting one turns the check on)")
    serve.add_argument("--admin-token", dest="admin_token",
                       help="the teacher's token, which manages every run (default: generated "
                            "whenever a class token is on)")
    serve.add_argument("--no-token", dest="no_token", action="store_true",
                       help="serve without a class token even off loopback (unsafe)")
    serve.add_argument("--allow-host", dest="allow_host", action="append", metavar="NAME",
                       help="a Host name students use to reach the server (repeatable; "
                            "'*' turns the Host check off)")
    serve.add_argument("--executor", choices=["local", "ray"],
                       help="where jobs train: this machine's worker processes (local, the "
                            "default) or a Ray cluster (needs pip install 'nnplay[ray]')")
    serve.add_argument("--ray-address", dest="ray_address", metavar="ADDRESS",
                       help="with --executor ray: ray://HOST:10001, HOST:6379, auto, or empty "
                            "(default) to start a local Ray")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nnplay` command."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
