"""The interactive API docs at /docs: Swagger UI served from static/vendor, so it works offline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from nnplay.resources import resource_dir

# What `make vendor` (and the Dockerfile's node stage) copy from the npm package
# swagger-ui-dist into static/vendor/swagger-ui/; the licence travels with the code.
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE",
                    "NOTICE")
SWAGGER_UI_DIR = "vendor/swagger-ui"

router = APIRouter()


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for the REST API, from local files (503 naming `make vendor` if absent)."""
    root = request.scope.get("root_path", "").rstrip("/")
    if not (resource_dir("static") / SWAGGER_UI_DIR / SWAGGER_UI_FILES[0]).is_file():
        return HTMLResponse(
            "<!DOCTYPE html><title>nnplay API docs</title><p>The API docs need Swagger UI's "
            "files in static/vendor/swagger-ui/: run <code>make vendor</code>. The API's "
            f'description is at <a href="{root}/openapi.json">/openapi.json</a>.</p>',
            status_code=503)
    assets = f"{root}/static/{SWAGGER_UI_DIR}"
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        # No badge that sends the spec to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
