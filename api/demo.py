"""GET /demo: a web page that runs the phone's flow, and the static files it loads.

The page, its script and its style sheet live in api/static/. They are read once
at start-up and served from memory. The page is plain HTML, CSS and JavaScript
with no build step, and it loads nothing from another origin, so it works offline.
The category labels come from the rules catalogue and are written into the
page at start-up, so the page needs no extra request to show them.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.status import entity_tag, etag_matches
from jobs.catalogue import CATEGORIES, Catalogue
from jobs.errors import RequestError

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_NAME = "demo.html"
# demo.html carries this marker inside a <script type="application/json"> element.
CATEGORIES_MARKER = "__CATEGORY_LABELS__"
SERVED_SUFFIXES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# Same origin only: the page talks to this API and shows the photo from a blob: URL.
# Map links are plain navigations that the person starts, which connect-src does not cover.
PAGE_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class StaticAsset(msgspec.Struct, frozen=True):
    body: bytes
    media_type: str
    etag: str


class CategoryLabel(msgspec.Struct, frozen=True):
    key: str
    ko: str
    en: str


class DemoAssets:
    """The demo page with its category labels filled in, and the static files beside it."""

    def __init__(self, page: bytes, files: dict[str, StaticAsset]) -> None:
        self.page = page
        self.files = files

    @classmethod
    def load(cls, catalogue: Catalogue, directory: Path = STATIC_DIR) -> DemoAssets:
        template = (directory / PAGE_NAME).read_text(encoding="utf-8")
        if template.count(CATEGORIES_MARKER) != 1:
            raise ValueError(f"{directory / PAGE_NAME} must contain {CATEGORIES_MARKER} exactly once")
        page = template.replace(CATEGORIES_MARKER, category_labels_json(catalogue)).encode("utf-8")

        files = {}
        for path in sorted(directory.iterdir()):
            media_type = SERVED_SUFFIXES.get(path.suffix)
            if media_type is None:
                continue
            body = path.read_bytes()
            files[path.name] = StaticAsset(body=body, media_type=media_type, etag=entity_tag(body))
        return cls(page, files)


def category_labels_json(catalogue: Catalogue) -> str:
    """Encode every category's labels as JSON that is safe inside a <script> element."""
    labels = [
        CategoryLabel(key=key, ko=catalogue.label(key, "ko"), en=catalogue.label(key, "en")) for key in CATEGORIES
    ]
    # "<" never appears raw, so a label cannot close the <script> element early.
    return msgspec.json.encode(labels).decode("utf-8").replace("<", "\\u003c")


async def demo_page(request: Request) -> Response:
    assets: DemoAssets = request.app.state.demo
    headers = {"Content-Security-Policy": PAGE_SECURITY_POLICY, "Cache-Control": "no-cache"}
    return Response(assets.page, media_type="text/html; charset=utf-8", headers=headers)


async def static_asset(request: Request) -> Response:
    name: str = request.path_params["name"]
    assets: DemoAssets = request.app.state.demo
    asset = assets.files.get(name)
    if asset is None:
        raise RequestError("not_found", http_status=404, detail=f"/static/{name[:64]}")

    # no-cache: the browser keeps the file but revalidates it, so a new deploy shows at once.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag_matches(if_none_match, asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
