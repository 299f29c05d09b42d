"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, served with no CDN.

FastAPI's own pages load their JavaScript and CSS from a CDN (and ReDoc's fonts from Google), so
they are blank on a machine without internet access. Here the same pages load the copies that the
``fastapi-offline`` package ships (Swagger UI 5, which reads OpenAPI 3.1, and ReDoc 2), served by
the app itself under ``/docs-assets``.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
# Swagger UI would otherwise fetch a validity badge from validator.swagger.io for every page view.
_SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": False}
#: The pages may load nothing from another origin: ReDoc's sidebar, for one, always shows a logo
#: from its CDN (an image that hides itself when it cannot load). Inline scripts and styles are the
#: pages' own (FastAPI's page templates); ReDoc's search runs in a worker made from a blob.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'")


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs``, its OAuth2 redirect page and ``/redoc`` from local assets.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off).
    """
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _local_only(get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png", swagger_ui_parameters=_SWAGGER_PARAMETERS,
        ))

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _local_only(get_redoc_html(openapi_url=root + openapi_url, title=f"{app.title} - ReDoc",
                                          redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                                          redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False))


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _root(request: Request) -> str:
    """The prefix of a proxy that serves the app under a sub-path (uvicorn's ``--root-path``)."""
    return request.scope.get("root_path", "").rstrip("/")
