"""The dataset part of a spec (`DatasetSpec`) and the checks on a person's own points.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import (
    Field,
    StrictFloat,
    field_validator,
    model_validator,
)

from nnplay.spec.names import LIMITS, DatasetName, Normalization, StrictModel, Task, WholeNumber


class DatasetSpec(StrictModel):
    """Which data to train on and how it is sampled, split and normalised."""

    name: DatasetName = DatasetName.spiral
    # 2-D datasets take up to `max_samples`; image sets up to their size (checked below).
    n_samples: WholeNumber = Field(500, ge=LIMITS.min_samples, le=LIMITS.max_image_samples)
    noise: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_noise)
    test_fraction: StrictFloat = Field(0.5, ge=0.0, le=LIMITS.max_test_fraction)
    classes: WholeNumber = Field(3, ge=LIMITS.min_classes, le=LIMITS.max_classes)  # blobs only
    normalization: Normalization = Normalization.none
    seed: WholeNumber = Field(0, ge=0, le=LIMITS.max_seed)
    # The gaussians GAN target only: how many modes the mixture has.
    modes: WholeNumber = Field(8, ge=LIMITS.min_modes, le=LIMITS.max_modes)
    # The "drawn" GAN target and "custom" data: [x1, x2] pairs in the domain.
    points: list[tuple[float, float]] | None = None
    # Image classification only: shift each training image by up to this many pixels.
    augment_shift: WholeNumber = Field(0, ge=0, le=LIMITS.max_augment_shift)
    # "custom" data only: one class id (classification) or one value (regression) per point.
    labels: list[WholeNumber] | None = None
    values: list[StrictFloat] | None = None
    # Sequence sets only: time steps per sequence, the sine's cycles per step, own text.
    seq_len: WholeNumber = Field(20, ge=LIMITS.min_seq_len, le=LIMITS.max_seq_len)
    frequency: StrictFloat = Field(0.05, ge=0.005, le=LIMITS.max_frequency)
    text: str | None = None  # the "text" set only; absent: the shipped sonnets

    @field_validator("text", mode="before")
    @classmethod
    def _text_length(cls, value: Any) -> Any:
        # One sentence with the length, not the (possibly 20,000-character) text echoed.
        low, high = LIMITS.min_text_length, LIMITS.max_text_length
        if isinstance(value, str) and not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters (got {len(value)})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _custom_rows_count(cls, value: Any) -> Any:
        # A person's own data has as many samples as rows: n_samples is derived, not read.
        if isinstance(value, dict) and value.get("name") == DatasetName.custom.value:
            value = {key: item for key, item in value.items() if key != "n_samples"}
        return value

    @field_validator("points", mode="before")
    @classmethod
    def _points_in_domain(cls, value: Any) -> Any:
        # Checked here, before pydantic parses each pair, so a malformed drawing gets one
        # sentence naming the rule (and a huge one is refused before it is parsed).
        if value is None:
            return value
        low = min(LIMITS.min_drawn_points, LIMITS.min_custom_rows)
        high = max(LIMITS.max_drawn_points, LIMITS.max_custom_rows)
        limit = LIMITS.max_coordinate
        rule = (f"a list of {low} to {high} [x1, x2] points, each coordinate between "
                f"{-limit:g} and {limit:g}")
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be {rule}")
        if not low <= len(value) <= high:
            raise ValueError(f"must be {rule} (got {len(value)} points)")
        for index, point in enumerate(value):
            if (not isinstance(point, list | tuple) or len(point) != 2
                    or not all(isinstance(c, int | float) and not isinstance(c, bool)
                               for c in point)):
                raise ValueError(f"must be {rule}; point {index} is {point!r} "
                                 f"(row {index + 1})")
            if not all(math.isfinite(c) and -limit <= c <= limit for c in point):
                raise ValueError(f"must be {rule}; point {index} is {list(point)!r}, "
                                 f"outside the domain (row {index + 1})")
        return value


def custom_data_check(data: DatasetSpec, task: Task) -> None:
    """Check a person's own points and their labels or values (raises ValueError naming the
    row); sets `n_samples` to the row count, so the split applies as for generated sets."""
    low, high = LIMITS.min_custom_rows, LIMITS.max_custom_rows
    points = data.points
    if points is None or not low <= len(points) <= high:
        got = "none" if points is None else f"{len(points)}"
        raise ValueError(f"dataset.points: 'custom' data needs {low} to {high} [x1, x2] rows "
                         f"(got {got})")
    targets, field, other = ((data.labels, "labels", "values") if task == Task.classification
                             else (data.values, "values", "labels"))
    if getattr(data, other) is not None:
        raise ValueError(f"dataset.{other}: a {task.value} run takes dataset.{field}, "
                         f"not {other} (labels: classification, values: regression)")
    if targets is None:
        raise ValueError(f"dataset.{field}: 'custom' {task.value} data needs one "
                         f"{'class id' if field == 'labels' else 'value'} per point")
    if len(targets) != len(points):
        raise ValueError(f"dataset.{field}: {len(targets)} entries for {len(points)} points; "
                         "give one per row")
    if data.labels is not None:
        top = LIMITS.max_classes - 1
        for index, label in enumerate(data.labels):
            if not 0 <= label <= top:
                raise ValueError(f"dataset.labels: row {index + 1} has class {label}; "
                                 f"classes are 0 to {top}")
        if len(set(data.labels)) < 2:
            raise ValueError("dataset.labels: every row has the same class; "
                             "a classifier needs points of at least 2 classes")
    for index, value in enumerate(data.values or []):
        if not math.isfinite(value):
            raise ValueError(f"dataset.values: row {index + 1} has value {value}; "
                             "values must be finite numbers")
    data.n_samples = len(points)
