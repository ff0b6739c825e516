"""The API's own documentation pages, served whole by the registry: Swagger UI at `/docs` and
ReDoc at `/redoc`, their scripts, styles and icons from `/assets/docs/...`.

FastAPI's default pages load their scripts from a CDN and Google Fonts, so on a consortium
network without internet they are blank. These pages load nothing from outside: the files come
from the npm packages `swagger-ui-dist` and `redoc` the project's setup installs
(package.json), read from `node_modules` (or `TANHUI_DOCS_ASSETS`, a directory laid out the
same way) and served from a fixed list — no other file of that tree is reachable. ReDoc's
fonts are the browser's own (no web fonts), and the one address its bundle hard-codes (the
Redocly logo under its sidebar, from cdn.redoc.ly) is rewritten to the icon served here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.errors import ApiError
from core.paths import ROOT

router = APIRouter(include_in_schema=False)

ASSET_PREFIX = "/assets/docs"
# name served → (path under node_modules, media type)
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui-dist/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui-dist/swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("swagger-ui-dist/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/bundles/redoc.standalone.js", "text/javascript"),
}


# what a bundle would fetch from outside → what it fetches instead
REWRITES: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    "redoc.standalone.js": ((b"https://cdn.redoc.ly/redoc/logo-mini.svg",
                             (ASSET_PREFIX + "/favicon-32x32.png").encode()),),
}


@lru_cache(maxsize=4)
def _rewritten(path: Path, name: str) -> bytes:
    body = path.read_bytes()
    for outside, inside in REWRITES[name]:
        body = body.replace(outside, inside)
    return body


def assets_dir() -> Path:
    """Where the packages' files are: `TANHUI_DOCS_ASSETS`, else the project's node_modules."""
    configured = os.environ.get("TANHUI_DOCS_ASSETS")
    return Path(configured) if configured else ROOT / "node_modules"


def _url(name: str) -> str:
    return f"{ASSET_PREFIX}/{name}"


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    """Swagger UI over /openapi.json, every file from this server."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="Tanhui 碳汇 API — Swagger UI",
        swagger_js_url=_url("swagger-ui-bundle.js"), swagger_css_url=_url("swagger-ui.css"),
        swagger_favicon_url=_url("favicon-32x32.png"))


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    """ReDoc over /openapi.json, every file from this server and no web fonts."""
    return get_redoc_html(
        openapi_url="/openapi.json", title="Tanhui 碳汇 API — ReDoc",
        redoc_js_url=_url("redoc.standalone.js"), redoc_favicon_url=_url("favicon-32x32.png"),
        with_google_fonts=False)


@router.get(ASSET_PREFIX + "/{name}")
def asset(name: str) -> Response:
    """One of the documentation pages' files (a fixed list; anything else is 404)."""
    known = ASSETS.get(name)
    if known is None:
        raise ApiError(404, "asset_not_found", f"no documentation asset {name!r}",
                       {"name": name})
    relative, media_type = known
    path = assets_dir() / relative
    if not path.is_file():
        raise ApiError(503, "docs_assets_missing",
                       "the documentation pages' files are not installed; run the setup "
                       "(npm packages swagger-ui-dist and redoc)", {"name": name})
    headers = {"Cache-Control": "public, max-age=86400"}
    if name in REWRITES:
        return Response(_rewritten(path, name), media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)
