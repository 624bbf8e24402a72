"""Editing specs as plain data: merging overrides, setting dotted keys, dumping to JSON.
"""

from __future__ import annotations

import copy
from typing import Any

from nnplay.spec.experiment import ExperimentSpec
from nnplay.spec.parse import SpecError


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `overrides` merged in; nested dicts merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(data: dict[str, Any], dotted_key: str, value: Any,
               resolved: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of `data` with `a.b.0.c` set to `value`; a bad path raises `SpecError`.

    Numeric segments index lists. A list or object the path goes through that `data`
    leaves to the defaults is copied from `resolved` (the full spec `data` validates to).
    """
    result = copy.deepcopy(data)
    keys = dotted_key.split(".")
    node: Any = result
    ref: Any = resolved  # the same place in the resolved spec, where known
    for depth, key in enumerate(keys):
        path, parent = ".".join(keys[: depth + 1]), ".".join(keys[:depth])
        last = depth == len(keys) - 1
        if isinstance(node, list):
            index = _list_index(node, key, path, parent)
            if last:
                node[index] = value
                break
            node = node[index]
            ref = ref[index] if isinstance(ref, list) and index < len(ref) else None
            continue
        if not isinstance(node, dict):
            raise SpecError([f"{path}: {parent} is {node!r}, not an object or a list"])
        if last:
            node[key] = value
            break
        if isinstance(ref, dict) and key not in ref:
            raise SpecError([f"{path}: unknown key '{key}'"
                             + (f" in {parent}" if parent else "")
                             + f" (known: {', '.join(sorted(ref))})"])
        ref = ref.get(key) if isinstance(ref, dict) else None
        if key not in node or node[key] is None:
            node[key] = copy.deepcopy(ref) if isinstance(ref, dict | list) else {}
        if keys[depth + 1].isdigit() and not isinstance(node[key], list):
            raise SpecError([f"{path}.{keys[depth + 1]}: {path} is not a list"])
        node = node[key]
    return result


def _list_index(items: list[Any], key: str, path: str, parent: str) -> int:
    """`key` as an index into `items`, or a `SpecError` naming `path` and the valid range."""
    if not items:
        raise SpecError([f"{path}: {parent} is an empty list"])
    allowed = f"{parent} has {len(items)} item{'s' if len(items) > 1 else ''}, " \
              f"indices 0-{len(items) - 1}"
    if not key.isdigit():
        raise SpecError([f"{path}: expected a list index ({allowed})"])
    if int(key) >= len(items):
        raise SpecError([f"{path}: index {key} is out of range ({allowed})"])
    return int(key)


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as plain JSON-ready data (enums as strings)."""
    return spec.model_dump(mode="json")
