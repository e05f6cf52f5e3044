"""The console's pages: page shells rendered from templates (labels in the chosen language, no data),
and their scripts, styles and charts served from the package. Every figure a page shows is fetched by
the browser from ``/v1`` with the signed-in key, so the API's roles and tenancy are the console's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from xingqu.console.i18n import LANGS, labels
from xingqu.domain.records import MAX_ID_LENGTH

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
LANG_COOKIE = "xq_lang"
#: The pages in the navigation bar: name, the operation whose data the page shows first (the page is
#: listed for keys that may call it), and its path.
NAV: tuple[tuple[str, str, str], ...] = (
    ("overview", "overview_report", "/overview"),
    ("product", "product_details", "/products"),
    ("creator", "creator_selection", "/creators"),
    ("audiences", "portrait", "/audiences"),
    ("governance", "review_queue", "/governance"),
    ("feed", "user_feed", "/feed"),
    ("models", "list_models", "/models"),
    ("experiments", "list_experiments", "/experiments"),
)

#: A digest of the static files: in their addresses, so that a browser's cached copy is never stale.
ASSETS = hashlib.sha256(
    b"".join(f.name.encode() + f.read_bytes() for f in sorted((HERE / "static").iterdir()) if f.is_file())
).hexdigest()[:12]

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)
Lang = Annotated[str | None, Query(max_length=8)]
Id = Annotated[str, PathParam(min_length=1, max_length=MAX_ID_LENGTH)]


def chosen_lang(request: Request, lang: str | None) -> str:
    """The page's language: ``?lang=`` when valid, else the cookie, else Chinese."""
    for candidate in (lang, request.cookies.get(LANG_COOKIE)):
        if candidate in LANGS:
            return candidate
    return "zh"


def render(request: Request, page: str, lang: str | None, **context: object) -> HTMLResponse:
    """A page shell in its language; the language asked for by ``?lang=`` is remembered in a cookie."""
    chosen = chosen_lang(request, lang)
    words = labels(chosen)
    config = {"lang": chosen, "page": page, "labels": words, "prefix": PREFIX, **context}
    html = _env.get_template(f"{page}.html").render(
        t=lambda key: words[key],
        lang=chosen,
        page=page,
        prefix=PREFIX,
        static=f"{PREFIX}/static",
        version=ASSETS,
        nav=NAV,
        config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
        **context,
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, chosen, samesite="strict", max_age=365 * 86_400)
    return response


@router.get("")
def home() -> Response:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


@router.get("/login")
def login_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "login", lang)


@router.get("/overview")
def overview_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "overview", lang)


@router.get("/products")
def products_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "product", lang, subject=None)


@router.get("/products/{product_id}")
def product_page(product_id: Id, request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "product", lang, subject=product_id)


@router.get("/creators")
def creators_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "creator", lang, subject=None)


@router.get("/creators/{creator_id}")
def creator_page(creator_id: Id, request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "creator", lang, subject=creator_id)


@router.get("/audiences")
def audiences_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "audiences", lang)


@router.get("/governance")
def governance_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "governance", lang)


@router.get("/feed")
def feed_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "feed", lang)


@router.get("/models")
def models_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "models", lang)


@router.get("/experiments")
def experiments_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return render(request, "experiments", lang)


class CachedStatic(StaticFiles):
    """The console's scripts and styles, cached by browsers for a day: pages ask for them with a digest
    of their contents in the address, so a changed file is never served stale."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def mount(app: FastAPI) -> None:
    """Serve the console under ``/console`` of ``app`` (pages and their static files)."""
    app.include_router(router)
    app.mount(f"{PREFIX}/static", CachedStatic(directory=HERE / "static"), name="console-static")
