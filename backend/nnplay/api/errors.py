"""Error responses: every error is JSON with a sentence a person can act on.

This module owns the error body (`ErrorBody`), which statuses each kind of route
documents in `/openapi.json`, and the handlers that turn errors into those bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from nnplay.jobs.manager import StoreUnavailable, TooManyJobs, UnknownJob
from nnplay.jobs.status import IllegalTransition
from nnplay.presets import UnknownPreset
from nnplay.spec import SpecError, describe_errors


class ErrorBody(BaseModel):
    """The JSON body of every error response the app sends."""

    detail: str = Field(description="One sentence saying what went wrong and what to do.")
    errors: list[str] = Field(default_factory=list, description=(
        "One sentence per bad field, naming it and what is allowed (invalid input only)."))


def error_body(detail: str, errors: list[str] | None = None) -> dict[str, object]:
    """The JSON body of every error response."""
    body: dict[str, object] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return body


_MEANING = {
    400: "The Host header names a host this server does not answer to.",
    401: "This server needs its class token, and the request has none or a wrong one.",
    403: "Not allowed: another identity's run (read-only) or a foreign Origin.",
    404: "No such job or preset.",
    409: "The job's state does not allow this, e.g. resuming a job that runs.",
    413: "The request body is larger than the server accepts.",
    422: "Invalid input: `detail` says what, `errors` names each bad field and what is allowed.",
    429: "Too many jobs (queued and running, or per identity); retry after `Retry-After` s.",
    503: "The server cannot take new jobs right now; `detail` says why.",
    507: "The disk holding the runs is full; new jobs are refused until there is space.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A `responses=` entry documenting these error statuses with the `ErrorBody` schema."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]} for status in statuses}


# What each kind of route can answer besides success (422 is added by `install_openapi`
# wherever a route takes input). Every /api route: host check and class token.
API_ERRORS = documented(400, 401, 403)
PRESET_ERRORS = documented(404)
READ_JOB_ERRORS = documented(404)  # reads, downloads and delete of one job
CONTROL_JOB_ERRORS = documented(404, 409, 413)  # pause/resume/step/stop/patch
# 404: unknown preset; 409: the server is shutting down.
CREATE_JOB_ERRORS = documented(404, 409, 413, 429, 503, 507)


def install_openapi(app: FastAPI) -> None:
    """Make `/openapi.json` document validation errors as `ErrorBody`, the body they have.

    FastAPI documents its own `HTTPValidationError` for 422; the handlers below answer
    `ErrorBody` instead, so every 422 in the document is rewritten to it.
    """

    build = app.openapi  # FastAPI's own, which caches what it builds in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["ErrorBody"] = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}")
        reference = {"$ref": "#/components/schemas/ErrorBody"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answers = operation.get("responses", {})
                if "422" in answers:
                    answers["422"] = {"description": _MEANING[422], "content": {
                        "application/json": {"schema": reference}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to HTTP statuses with readable bodies."""

    @app.exception_handler(SpecError)
    async def _spec(request: Request, error: SpecError) -> JSONResponse:
        return JSONResponse(error_body(f"invalid spec: {error}", error.messages), 422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        # Locations start with where the value was ("body", "query", "path"); a body's
        # fields are named alone (`lr`), a parameter with its place (`query.format`).
        items = []
        for item in error.errors():
            loc = tuple(item.get("loc", ()))
            if item.get("type") == "json_invalid":  # loc is ("body", character position)
                reason = item.get("ctx", {}).get("error", "")
                item = {"type": "value_error", "loc": ("body",), "msg": (
                    f"is not valid JSON: {reason} at character {loc[-1]}")}
            elif loc[:1] == ("body",):
                item = {**item, "loc": loc[1:] or ("body",)}
            items.append(item)
        messages = describe_errors(items)
        return JSONResponse(error_body("invalid request: " + "; ".join(messages), messages), 422)

    @app.exception_handler(UnknownJob)
    async def _unknown_job(request: Request, error: UnknownJob) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 404)

    @app.exception_handler(UnknownPreset)
    async def _unknown_preset(request: Request, error: UnknownPreset) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 404)

    @app.exception_handler(IllegalTransition)
    async def _conflict(request: Request, error: IllegalTransition) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 409)

    @app.exception_handler(TooManyJobs)
    async def _too_many(request: Request, error: TooManyJobs) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 429,
                            headers={"Retry-After": str(error.retry_after)})

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 507, headers={"Retry-After": "30"})

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, error: ValueError) -> JSONResponse:
        return JSONResponse(error_body(str(error)), 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(error.detail)), error.status_code,
                            headers=getattr(error, "headers", None))



