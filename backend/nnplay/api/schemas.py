"""Request bodies of the REST routes (the experiment spec itself lives in nnplay.spec)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat

from nnplay.spec import LIMITS, WholeNumber


class _Body(BaseModel):
    # As in the spec: numbers and booleans are strict, "0.1" or 1 for `paused` is refused.
    model_config = ConfigDict(extra="forbid")


class JobOptions(_Body):
    """How a job runs, apart from its spec."""

    name: str = Field("", max_length=LIMITS.max_name_length)
    paused: StrictBool = False  # start parked, so the first thing a person does can be "step"
    frame_rate: StrictFloat | None = Field(None, gt=0, le=60)  # frames/s; default from settings
    variant: WholeNumber = Field(0, ge=0, le=50)  # which run of a race preset
    # Per-class precision/recall/F1 and the confusion matrix in every metrics point.
    detailed_metrics: StrictBool = True
    # Pause the job once nobody has watched or touched it for NNPLAY_UNWATCHED_TIMEOUT s
    # (the page asks for it: a closed tab's run should not train on for hours).
    pause_when_unwatched: StrictBool = False


class StepRequest(_Body):
    """Body of POST /api/jobs/{id}/step."""

    steps: WholeNumber = Field(1, ge=1, le=LIMITS.max_steps)
    phase: Literal["both", "d", "g"] = "both"  # GANs: step only the discriminator or generator


class JobUpdate(_Body):
    """Body of PATCH /api/jobs/{id}: settings that change while the job trains."""

    lr: StrictFloat | None = Field(None, ge=LIMITS.min_lr, le=LIMITS.max_lr)
    g_lr: StrictFloat | None = Field(None, ge=LIMITS.min_lr, le=LIMITS.max_lr)  # GAN generator
    d_lr: StrictFloat | None = Field(None, ge=LIMITS.min_lr, le=LIMITS.max_lr)  # GAN discriminator
    name: str | None = Field(None, max_length=LIMITS.max_name_length)


class DryRun(_Body):
    """What `POST /api/jobs?dry_run=true` answers for a valid body."""

    valid: bool
    spec: dict[str, Any]  # the full spec that would train, defaults filled in


DRY_RUN_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"model": DryRun, "description": "With `?dry_run=true`: the body is valid."}}

JOB_CREATE_EXAMPLES: list[dict[str, Any]] = [
    {"preset": "spiral"},
    {"preset": "optimizers", "overrides": {"max_steps": 2000}, "variant": 6},
    {"task": "classification", "dataset": {"name": "circle", "noise": 0.1},
     "model": {"layers": [{"type": "dense", "units": 4, "activation": "relu"}]},
     "optimizer": {"name": "adam", "lr": 0.01}, "loss": "bce", "max_steps": 2000},
]
