"""Parsing a spec: `parse_spec`, and pydantic's errors turned into sentences that name the
field and what is allowed (`SpecError`).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic.fields import FieldInfo

from nnplay.spec.experiment import ExperimentSpec
from nnplay.spec.layers import (
    AvgPool2dLayer,
    BatchNormLayer,
    Conv2dLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    MaxPool2dLayer,
    RecurrentLayer,
)


class SpecError(ValueError):
    """A spec was refused; `messages` name each bad field and what is allowed."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _field_path(loc: tuple[int | str, ...]) -> str:
    # Discriminated unions add the tag ("dense") to the location; a person wants
    # `model.layers.0.activation`, not `model.layers.0.dense.activation`.
    parts: list[str] = []
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        if isinstance(previous, int) and isinstance(part, str) and part in _LAYER_TAGS:
            continue
        parts.append(str(part))
    return ".".join(parts)


_LAYER_TAGS = {"dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "dropout", "batchnorm",
               "rnn", "gru", "lstm"}


_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "too_long", "too_short"}

_LAYER_MODELS: dict[str, type[BaseModel]] = {
    "dense": DenseLayer, "conv2d": Conv2dLayer, "maxpool2d": MaxPool2dLayer,
    "avgpool2d": AvgPool2dLayer, "flatten": FlattenLayer, "dropout": DropoutLayer,
    "batchnorm": BatchNormLayer, "rnn": RecurrentLayer, "gru": RecurrentLayer,
    "lstm": RecurrentLayer,
}


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The pydantic field an error location points at, following nested models and layers."""
    model: Any = ExperimentSpec
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if part in _LAYER_MODELS and field is not None and model is None:
            model = _LAYER_MODELS[part]  # the tag pydantic adds for a layer
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        field = fields[part]
        model = _model_of(field.annotation)
    return field


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class an annotation holds: `ModelSpec` for `ModelSpec | None`, else None."""
    if isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    models = [arg for arg in typing.get_args(annotation)
              if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if len(models) == 1 else None


def _bounds(field: FieldInfo) -> str | None:
    """A field's allowed range in words, e.g. 'between 1e-06 and 10'."""
    low = high = None
    for rule in field.metadata:
        for attr in ("ge", "gt", "min_length"):
            low = getattr(rule, attr, low)
        for attr in ("le", "lt", "max_length"):
            high = getattr(rule, attr, high)
    if low is not None and high is not None:
        return f"between {_number(low)} and {_number(high)}"
    if low is not None:
        return f"at least {_number(low)}"
    return f"at most {_number(high)}" if high is not None else None


def _number(value: float) -> str:
    # 1000000 reads better than 1e+06; small floats such as 1e-06 stay compact.
    return str(value) if isinstance(value, int) else f"{value:g}"


# Wrong JSON types, in words; the value the person sent follows as JSON.
_TYPE_ERRORS = {"float_type": "must be a number", "int_type": "must be a whole number",
                "bool_type": "must be true or false", "string_type": "must be a string",
                "dict_type": "must be an object", "model_type": "must be an object",
                "model_attributes_type": "must be an object", "list_type": "must be a list",
                "missing": "is required"}


def as_json(value: Any, limit: int = 60) -> str:
    """A value as the person sent it, for an error message: `"0.1"`, `true`, `2.5`."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn a pydantic error into sentences that name the field and what is allowed."""
    return describe_errors(error.errors(include_url=False))


def describe_errors(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sentences for pydantic error dicts (`loc`, `msg`, `type`, `input`), one per error."""
    messages = []
    for item in items:
        loc = tuple(item["loc"])
        path = _field_path(loc)
        text = str(item["msg"]).removeprefix("Value error, ")
        got = item.get("input")
        field = _field_at(loc) if item["type"] in _BOUND_ERRORS else None
        bounds = _bounds(field) if field is not None else None
        if bounds and isinstance(got, list):
            text = f"must have {bounds} items (got {len(got)})"
        elif bounds:
            text = f"must be {bounds} (got {got!r})"
        elif item["type"] in _TYPE_ERRORS:
            text = _TYPE_ERRORS[item["type"]]
            if not isinstance(got, dict | list) and item["type"] != "missing":
                text = f"{text} (got {as_json(got)})"
        elif item["type"] == "extra_forbidden":
            text = "is not a known field"
        elif not isinstance(got, dict | list) and got is not None and item["type"] != "value_error":
            text = f"{text} (got {got!r})"
        messages.append(f"{path}: {text}" if path else text)
    return messages


def parse_spec(data: dict[str, Any]) -> ExperimentSpec:
    """Validate a spec dict, raising `SpecError` with readable messages."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error)) from None
