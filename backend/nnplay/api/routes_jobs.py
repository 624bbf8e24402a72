"""REST routes for jobs: create, list, read, control, update, delete and download."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import ValidationError

from nnplay.api.errors import API_ERRORS, CONTROL_JOB_ERRORS, CREATE_JOB_ERRORS, READ_JOB_ERRORS
from nnplay.api.schemas import (
    DRY_RUN_RESPONSE,
    JOB_CREATE_EXAMPLES,
    JobOptions,
    JobUpdate,
    StepRequest,
)
from nnplay.api.security import READ_ONLY, Caller, CallerDep
from nnplay.config import Settings
from nnplay.data.image_samples import MAX_IMAGES, run_test_images
from nnplay.data.images import image_set_problem
from nnplay.export import onnx_bytes, safetensors_bytes
from nnplay.jobs.job import Job
from nnplay.jobs.manager import JobManager
from nnplay.models.network import stack_rows
from nnplay.presets import get_preset
from nnplay.spec import (
    IMAGE_CLASS_NAMES,
    IMAGE_SHAPES,
    ExperimentSpec,
    SpecError,
    Task,
    as_json,
    describe_validation_error,
    parse_spec,
)

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=API_ERRORS)

METRIC_COLUMNS = ["step", "epoch", "train_loss", "test_loss", "train_accuracy",
                  "test_accuracy", "lr", "steps_per_second", "elapsed"]
# GAN jobs (empty where a metric does not apply: kl/js for 2-D, score for digits).
GAN_METRIC_COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "distance",
                      "kl", "js", "coverage", "confidence", "score", "lr", "g_lr", "d_lr",
                      "steps_per_second", "elapsed"]
_OPTION_KEYS = set(JobOptions.model_fields) - {"name"}


def get_manager(request: Request) -> JobManager:
    """The app's job manager."""
    manager: JobManager = request.app.state.manager
    return manager


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


Manager = Annotated[JobManager, Depends(get_manager)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def controlled_job(job_id: str, manager: Manager, caller: CallerDep) -> Job:
    """The job, if the caller may change it (its owner or the admin); else 403."""
    job = manager.get(job_id)
    if not caller.may_control(job.owner):
        raise HTTPException(403, READ_ONLY)
    return job


OwnJob = Annotated[Job, Depends(controlled_job)]


def job_view(job: Job, caller: Caller, with_spec: bool = True) -> dict[str, Any]:
    """The job's public view, plus whether the caller may change it (never who owns it)."""
    return {**job.view(with_spec=with_spec), "owned": caller.may_control(job.owner)}


def parse_job_request(body: dict[str, Any]) -> tuple[ExperimentSpec, JobOptions]:
    """Split a create-job body into the spec and the job options.

    Accepted forms: a spec; `{"spec": {...}}`; `{"preset": NAME, "overrides": {...}}`;
    each may add `paused`, `frame_rate` and (for race presets) `variant`.
    """
    body = dict(body)
    try:
        options = JobOptions.model_validate({k: body.pop(k) for k in list(body)
                                             if k in _OPTION_KEYS})
    except ValidationError as error:
        raise SpecError(describe_validation_error(error)) from None
    if "preset" in body:
        name = body.pop("preset")
        if not isinstance(name, str):
            raise SpecError([f"preset: must be a preset name, a string (got {as_json(name)}); "
                             "list them with GET /api/presets"])
        preset = get_preset(name)
        overrides = body.pop("overrides", {})
        if body:
            raise SpecError([f"{key}: is not a known field next to 'preset' (put spec fields "
                             "in 'overrides')" for key in body])
        if not isinstance(overrides, dict):
            raise SpecError([f"overrides: must be an object of spec fields "
                             f"(got {as_json(overrides)})"])
        runs = preset.race(overrides)
        if options.variant >= len(runs):
            raise SpecError([f"variant: must be between 0 and {len(runs) - 1} for preset "
                             f"{preset.name!r} (got {options.variant})"])
        label, spec = runs[options.variant]
        if not spec.name:
            spec = spec.model_copy(update={"name": label})
        return spec, options
    if "spec" in body:
        spec_data = body.pop("spec")
        if body:
            raise SpecError([f"{key}: is not a known field next to 'spec'" for key in body])
        if not isinstance(spec_data, dict):
            raise SpecError([f"spec: must be an object of spec fields (got {as_json(spec_data)})"])
        body = spec_data
    return parse_spec(body), options


@router.post("", status_code=201, responses={**CREATE_JOB_ERRORS, **DRY_RUN_RESPONSE})
async def create_job(
    request: Request, manager: Manager, settings: AppSettings, caller: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=JOB_CREATE_EXAMPLES)],
    response: Response, dry_run: bool = False,
) -> dict[str, Any]:
    """Start a training job from a spec or a preset; it queues when the server is busy.

    With `?dry_run=true` the body is only validated: 200 with the full spec, or 422; an
    image classifier's answer adds `layers`, each layer's output shape and parameters.
    """
    spec, options = parse_job_request(body)
    if dry_run:
        response.status_code = 200
        checked: dict[str, Any] = {"valid": True, "spec": spec.model_dump(mode="json")}
        name = spec.dataset.name
        if spec.task == Task.classification and name in IMAGE_SHAPES:
            async with request.app.state.stack_checks:
                rows = await asyncio.to_thread(stack_rows, spec.model, (1, *IMAGE_SHAPES[name]),
                                               len(IMAGE_CLASS_NAMES[name]))
            checked.update(layers=rows, parameter_count=sum(r["parameters"] for r in rows))
        return checked
    job = manager.create(spec, name=spec.name, paused=options.paused,
                         frame_rate=options.frame_rate or settings.frame_rate,
                         detailed_metrics=options.detailed_metrics,
                         owner=caller.identity, owner_limited=not caller.admin,
                         pause_when_unwatched=options.pause_when_unwatched)
    return job_view(job, caller)


@router.get("")
async def list_jobs(manager: Manager, caller: CallerDep) -> dict[str, Any]:
    """List every job, oldest first, without their specs; `owned` says which you may change."""
    return {"jobs": [job_view(job, caller, with_spec=False) for job in manager.list()]}


@router.get("/{job_id}", responses=READ_JOB_ERRORS)
async def read_job(job_id: str, manager: Manager, caller: CallerDep) -> dict[str, Any]:
    """Read a job: status, step, spec and latest metrics."""
    return job_view(manager.get(job_id), caller)


@router.delete("/{job_id}", responses=READ_JOB_ERRORS)
async def delete_job(job: OwnJob, manager: Manager) -> dict[str, Any]:
    """Stop a job if it runs, and forget it (its owner or the admin only)."""
    manager.delete(job.id)
    await asyncio.to_thread(job.wait_finished, 2.0)
    return {"id": job.id, "deleted": True}


@router.post("/{job_id}/pause", responses=CONTROL_JOB_ERRORS)
async def pause_job(job: OwnJob, manager: Manager, caller: CallerDep) -> dict[str, Any]:
    """Pause a running job after its current step; answers with the step it paused at
    (waits up to a second for the run to say)."""
    manager.pause(job.id)
    await asyncio.to_thread(job.pause_acked.wait, 1.0)
    return job_view(job, caller, with_spec=False)


@router.post("/{job_id}/resume", responses=CONTROL_JOB_ERRORS)
async def resume_job(job: OwnJob, manager: Manager, caller: CallerDep) -> dict[str, Any]:
    """Continue a paused job."""
    return job_view(manager.resume(job.id), caller, with_spec=False)


@router.post("/{job_id}/step", responses=CONTROL_JOB_ERRORS)
async def step_job(job: OwnJob, manager: Manager, caller: CallerDep,
                   body: StepRequest | None = None) -> dict[str, Any]:
    """Train a paused job for `steps` more steps (default 1)."""
    request = body or StepRequest()
    return job_view(manager.step(job.id, request.steps, request.phase), caller,
                    with_spec=False)


@router.post("/{job_id}/stop", responses=CONTROL_JOB_ERRORS)
async def stop_job(job: OwnJob, manager: Manager, caller: CallerDep) -> dict[str, Any]:
    """Stop a job; waits up to two seconds for the trainer to finish its step."""
    manager.stop(job.id)
    await asyncio.to_thread(job.wait_finished, 2.0)
    return job_view(job, caller, with_spec=False)


@router.patch("/{job_id}", responses=CONTROL_JOB_ERRORS)
async def update_job(job: OwnJob, body: JobUpdate, manager: Manager,
                     caller: CallerDep) -> dict[str, Any]:
    """Change settings live: the learning rate (a GAN's `g_lr`/`d_lr` alone) or the name."""
    for lr, target in ((body.lr, "all"), (body.g_lr, "g"), (body.d_lr, "d")):
        if lr is not None:
            manager.set_lr(job.id, lr, target)
    if body.name is not None:
        manager.rename(job.id, body.name)
    return job_view(job, caller, with_spec=False)


@router.get("/{job_id}/metrics", response_model=None, responses=READ_JOB_ERRORS)
async def job_metrics(job_id: str, manager: Manager, format: str = "json") -> Any:
    """The metrics history as JSON (`points`) or CSV (`?format=csv`)."""
    job = manager.get(job_id)
    points = job.history.points()
    if format == "csv":
        buffer = io.StringIO()
        columns = GAN_METRIC_COLUMNS if job.spec.task == Task.gan else METRIC_COLUMNS
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(points)
        return Response(buffer.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="nnplay-{job.id}-metrics.csv"'})
    if format != "json":
        raise ValueError(f"format must be 'json' or 'csv' (got {format!r})")
    report = job.latest.get("report") if job.latest else None
    return {"id": job.id, "points": points, "report": report}


@router.get("/{job_id}/weights", response_class=Response, responses=READ_JOB_ERRORS)
async def job_weights(job_id: str, manager: Manager) -> Response:
    """The network's weights as a safetensors file (the spec is in its metadata)."""
    job = manager.get(job_id)
    state, step = await asyncio.to_thread(manager.weights.network_state, job_id)
    data = safetensors_bytes(state, job.spec, step)
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="nnplay-{job.id}.safetensors"'})


@router.get("/{job_id}/onnx", response_class=Response, responses=READ_JOB_ERRORS)
async def job_onnx(job_id: str, manager: Manager) -> Response:
    """The run as an ONNX model: raw points (m, 2) or images (m, h, w) in, the shown
    output (image classifiers: class probabilities) out."""
    job = manager.get(job_id)
    state, _ = await asyncio.to_thread(manager.weights.network_state, job_id)
    data = await asyncio.to_thread(onnx_bytes, job.spec, state, manager.data_dir)
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="nnplay-{job.id}.onnx"'})


@router.post("/{job_id}/predict", responses=READ_JOB_ERRORS)
async def predict_image(job_id: str, manager: Manager, body: Annotated[dict[str, Any], Body(
        examples=[{"image": [[0.0] * 8] * 8}])], feature_maps: bool = False) -> dict[str, Any]:
    """An image classifier's class probabilities for one h x w image of values 0..1.

    Works while the run trains, paused and after it ended (from its checkpoint);
    `?feature_maps=true` adds every conv and pool layer's maps as uint8 rows.
    """
    manager.get(job_id)
    if set(body) != {"image"}:
        raise ValueError("send {\"image\": [[...], ...]}: h rows of w numbers between 0 and 1")
    return await asyncio.to_thread(manager.weights.predict, job_id, body["image"], feature_maps)


@router.get("/{job_id}/test-images", responses=READ_JOB_ERRORS)
async def test_images(job_id: str, manager: Manager,
                      start: Annotated[int, Query(ge=0)] = 0,
                      count: Annotated[int, Query(ge=1, le=MAX_IMAGES)] = 32) -> dict[str, Any]:
    """An image classifier's test images `start` .. `start + count`, numbered as its probes are.

    `pixels` is base64 uint8 `(count, h, w)`; `labels` their classes; `total` the test set's size.
    """
    job = manager.get(job_id)
    if job.spec.task != Task.classification or job.spec.dataset.name not in IMAGE_SHAPES:
        raise ValueError(f"job {job_id} does not classify images, so it has no test images")
    problem = image_set_problem(job.spec.dataset.name.value, manager.data_dir)
    if problem:
        raise ValueError(problem)
    return await asyncio.to_thread(run_test_images, job.spec, start, count, manager.data_dir)


@router.post("/{job_id}/generate", responses=READ_JOB_ERRORS)
async def generate_sequence(job_id: str, manager: Manager, body: Annotated[dict[str, Any], Body(
        examples=[{"prompt": "Shall I", "length": 100, "temperature": 0.8},
                  {"seed_values": [0.0, 0.3, 0.6], "length": 50}])]) -> dict[str, Any]:
    """A sequence run, free-running: text runs `{"prompt", "length", "temperature"}` ->
    `{"text"}` (only characters of the training text); sine runs `{"seed_values",
    "length"}` -> `{"values"}`, each prediction fed back as the next input.

    Works while the run trains, paused and after it ended (from its checkpoint).
    """
    manager.get(job_id)
    return await asyncio.to_thread(manager.weights.generate, job_id, body)


@router.get("/{job_id}/spec", responses=READ_JOB_ERRORS)
async def job_spec(job_id: str, manager: Manager) -> Response:
    """The run's spec as a JSON file; POST it to /api/jobs to reproduce the run."""
    job = manager.get(job_id)
    text = json.dumps(job.spec.model_dump(mode="json"), indent=2)
    return Response(text, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="nnplay-{job.id}-spec.json"'})
