"""REST routes that describe the server: health, catalog, presets, dataset previews, the page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import torch
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from nnplay import __version__
from nnplay.api.errors import API_ERRORS, PRESET_ERRORS
from nnplay.api.security import CallerDep
from nnplay.data import build_dataset, build_gan_data
from nnplay.data.gan_targets import TARGETS
from nnplay.data.image_samples import MAX_IMAGES, set_samples
from nnplay.data.images import image_set_problem
from nnplay.presets import PRESETS, get_preset
from nnplay.spec import (
    DATASET_KINDS,
    LIMITS,
    DataKindName,
    DatasetName,
    Task,
    parse_spec,
    primary_task,
)
from nnplay.train.device import default_device_name

router = APIRouter(responses=API_ERRORS)


@router.get("/api/health", tags=["meta"])
async def health(request: Request) -> dict[str, Any]:
    """Say the server is up, which device it trains on and which torch it runs.

    `status` is `degraded` with a `reason` while runs cannot be saved (e.g. a full disk)
    or the Ray cluster jobs train on is unreachable; `executor` says where jobs train,
    `cohorts` whether same-shaped jobs train together.
    """
    out: dict[str, Any] = {"status": "ok", "device": default_device_name(),
                           "torch": torch.__version__, "version": __version__}
    manager = request.app.state.manager
    executor = dict(manager.executor.health())
    cluster_down = executor.pop("reason", None)
    out.update(executor)
    settings = request.app.state.settings
    # Whether same-shaped jobs of a worker train as one stacked model (NNPLAY_COHORTS).
    out["cohorts"] = {"on": settings.cohorts == "on", "min_size": settings.cohort_min_size}
    store = manager.store
    state = store.health() if store is not None else None
    if state is not None and not state.ok:
        out.update(status="degraded", reason=state.reason)
    elif cluster_down is not None:
        out.update(status="degraded", reason=cluster_down)
    return out


@router.get("/api/identity", tags=["meta"])
async def identity(caller: CallerDep) -> dict[str, Any]:
    """Who you are to this server: your identity (from your cookie) and whether you are admin."""
    return {"identity": caller.identity, "admin": caller.admin}


@router.get("/api/catalog", tags=["meta"])
async def catalog(request: Request) -> dict[str, Any]:
    """Every dataset, feature, layer type, activation, init, optimizer, loss, limit and default."""
    result: dict[str, Any] = request.app.state.catalog
    return result


@router.get("/api/presets", tags=["presets"])
async def list_presets() -> dict[str, Any]:
    """List the presets (lessons) with their one-line summaries."""
    specs = {name: preset.build() for name, preset in PRESETS.items()}
    # `kind`: the data kind it trains on (the page gives image lessons to the CNN lab).
    return {"presets": [{"name": p.name, "title": p.title, "summary": p.summary,
                         "explanation": p.explanation, "race": len(p.variants),
                         "task": specs[p.name].task.value,
                         "kind": DATASET_KINDS[specs[p.name].dataset.name].value}
                        for p in PRESETS.values()]}


@router.get("/api/presets/{name}", tags=["presets"], responses=PRESET_ERRORS)
async def read_preset(name: str) -> dict[str, Any]:
    """A preset's full spec, explanation, and the spec of each run of a race."""
    return get_preset(name).to_dict()


@router.get("/api/datasets/{name}/preview", tags=["meta"])
async def preview_dataset(
    request: Request,
    name: DatasetName,
    n_samples: Annotated[int, Query(ge=LIMITS.min_samples, le=1000)] = 200,
    noise: Annotated[float, Query(ge=0, le=LIMITS.max_noise)] = 0.0,
    classes: Annotated[int, Query(ge=LIMITS.min_classes, le=LIMITS.max_classes)] = 3,
    seed: Annotated[int, Query(ge=0, le=LIMITS.max_seed)] = 0,
    modes: Annotated[int, Query(ge=LIMITS.min_modes, le=LIMITS.max_modes)] = 8,
    task: Task | None = None,
    images: Annotated[int, Query(ge=1, le=MAX_IMAGES)] = 20,
) -> dict[str, Any]:
    """Sample points of a dataset or 2-D GAN target (for thumbnails): rows of [x1, x2, label].

    `task=gan` asks for the GAN target of a name that serves both (e.g. the
    `gaussians` mixture with `modes` instead of the two-class set). An image set answers
    `images` of its pictures instead, the classes in turn: `pixels` (base64 uint8
    `(count, h, w)`), `shape` [h, w], `labels`, `total` and `source`; a set that is
    not here answers 422 naming the folder its files belong in.
    """
    task = task or primary_task(name)
    if name == DatasetName.custom:
        raise ValueError("dataset 'custom' is a person's own points; they come with the spec "
                         "(dataset.points), so it has no preview")
    if DATASET_KINDS[name] == DataKindName.sequence:
        raise ValueError(f"dataset '{name.value}' is a sequence set; only 2-D GAN targets, "
                         "datasets and image sets have a preview (a sequence run's `sequence` "
                         "frame shows its data)")
    if DATASET_KINDS[name] == DataKindName.image:
        data_dir = request.app.state.settings.data_dir
        problem = image_set_problem(name.value, data_dir)
        if problem:
            raise ValueError(problem)
        return await asyncio.to_thread(set_samples, name.value, images, seed, data_dir)
    if task == Task.gan:
        return _preview_gan_target(name, n_samples, noise, modes, seed)
    spec = parse_spec({
        "task": task.value, "loss": "mse", "batch_size": 1,
        "dataset": {"name": name.value, "n_samples": n_samples, "noise": noise,
                    "classes": classes, "seed": seed, "test_fraction": 0.0},
    })
    data = build_dataset(spec)
    rows = [[round(float(x), 3), round(float(y), 3), round(float(label), 3)]
            for (x, y), label in zip(data.points_train.tolist(), data.y_train.tolist(),
                                     strict=True)]
    return {"name": name.value, "classes": data.n_classes, "domain": list(data.domain),
            "target_range": list(data.target_range), "points": rows}


def _preview_gan_target(name: DatasetName, n_samples: int, noise: float, modes: int,
                        seed: int) -> dict[str, Any]:
    """Real points of a 2-D GAN target, label 0 (there are no classes)."""
    if name not in TARGETS:
        raise ValueError(f"dataset '{name.value}' is what the person draws; only 2-D GAN "
                         "targets, datasets and image sets have a preview")
    spec = parse_spec({"task": "gan", "batch_size": 1, "dataset": {
        "name": name.value, "n_samples": n_samples, "noise": noise, "modes": modes,
        "seed": seed}})
    data = build_gan_data(spec)
    rows = [[round(float(x), 3), round(float(y), 3), 0.0] for x, y in data.real.tolist()]
    return {"name": name.value, "classes": 0, "domain": list(data.domain),
            "target_range": [0.0, 0.0], "points": rows}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request) -> HTMLResponse:
    """The playground page."""
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(request, "index.html",
                                                        {"version": __version__})
    return response
