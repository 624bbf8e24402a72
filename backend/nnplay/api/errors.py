"""Error responses: every error is JSON with a sentence a person can act on."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from nnplay.jobs.manager import StoreUnavailable, TooManyJobs, UnknownJob
from nnplay.jobs.status import IllegalTransition
from nnplay.presets import UnknownPreset
from nnplay.spec import SpecError


def error_body(detail: str, errors: list[str] | None = None) -> dict[str, object]:
    """The JSON body of every error response."""
    body: dict[str, object] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to HTTP statuses with readable bodies."""

    @app.exception_handler(SpecError)
    async def _spec(request: Request, error: SpecError) -> JSONResponse:
        return JSONResponse(error_body(f"invalid spec: {error}", error.messages), 422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        messages = []
        for item in error.errors():
            loc = [str(part) for part in item.get("loc", ()) if part != "body"]
            where = ".".join(loc)
            messages.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
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



