"""Headless Chromium for the page tests (this module holds no tests).

Debian's Chromium (`/usr/bin/chromium`, installed by scripts/bootstrap with `fonts-noto-cjk`)
driven by Playwright's Python package; `playwright install` is never used. Pages are opened at
the registry's public URL as a person opens them (a QR code's link, say): every request the
browser makes to that origin is answered by the real app in-process (the test's `TestClient`),
and every other request is refused and recorded, so a test also proves that a page fetches
nothing from elsewhere (it must work offline, in a courtroom).

Screenshots and PDFs go to `test-artifacts/` at the repository root (git-ignored), for a person
to look at after a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.pages import qr_svg
from api.pdf import DEFAULT_CHROMIUM, page_count

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def require_browser() -> None:
    """Fails, saying what is missing, when Chromium or Playwright is not installed (the
    project's setup installs both, so a missing browser is a broken setup, not a reason to pass
    untested); skips instead only where TANHUI_ALLOW_NO_BROWSER=1 says this machine cannot have
    one (not root, no apt-get)."""
    missing = None
    if not DEFAULT_CHROMIUM.is_file():
        missing = (f"no Chromium at {DEFAULT_CHROMIUM}: run scripts/bootstrap as root on Debian "
                   "(apt-get install -y chromium fonts-noto-cjk)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright's Python package is missing: run scripts/bootstrap"
    if missing is None:
        return
    if os.environ.get("TANHUI_ALLOW_NO_BROWSER") == "1":
        pytest.skip(missing)
    pytest.fail(missing)


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@dataclass
class Browser:
    """One page in headless Chromium; `outside` lists every request refused for leaving the
    registry's origin."""

    page: Any
    outside: list[str] = field(default_factory=list)

    def fonts_of(self, selector: str) -> list[dict[str, Any]]:
        """The platform fonts Chromium actually used to draw the text of the first element
        matching `selector` (DevTools CSS.getPlatformFontsForNode): family and glyph count."""
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts: list[dict[str, Any]] = []
        # the text nodes are the element's children; ask for each (and the element itself)
        described = cdp.send("DOM.describeNode", {"nodeId": node, "depth": 1})["node"]
        for child in described.get("children", []):
            if child.get("nodeType") == 3:  # a text node
                pushed = cdp.send("DOM.pushNodesByBackendIdsToFrontend",
                                  {"backendNodeIds": [child["backendNodeId"]]})["nodeIds"][0]
                fonts += cdp.send("CSS.getPlatformFontsForNode", {"nodeId": pushed})["fonts"]
        fonts += cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        cdp.detach()
        return fonts


@contextmanager
def open_browser(http: TestClient, base_url: str) -> Iterator[Browser]:
    """A headless Chromium page whose requests to `base_url` are served by `http`."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(DEFAULT_CHROMIUM))
        try:
            context = chromium.new_context(viewport={"width": 900, "height": 1200},
                                           locale="zh-CN", device_scale_factor=1)
            browser = Browser(context.new_page())

            def serve(route: Any) -> None:
                request = route.request
                if not request.url.startswith(base_url + "/"):
                    browser.outside.append(request.url)
                    route.abort()
                    return
                answer = http.request(request.method, request.url[len(base_url):])
                route.fulfill(status=answer.status_code, body=answer.content, headers={
                    k: v for k, v in answer.headers.items()
                    if k.lower() not in ("content-length", "content-encoding")
                })

            context.route("**/*", serve)
            yield browser
        finally:
            chromium.close()


def qr_link(browser: Browser) -> str:
    """The link the certificate on the page holds in its QR code (the QR is drawn from exactly
    this URL)."""
    href = str(browser.page.get_attribute("a.qr", "href"))
    drawn = browser.page.get_attribute("a.qr svg path", "d")
    expected = re.search(r'<path[^>]* d="([^"]+)"', qr_svg(href))
    assert expected is not None and drawn == expected.group(1)
    return href


def verdict(browser: Browser) -> str:
    """A verification page's verdict: "true" or "false"."""
    return str(browser.page.get_attribute(".verdict", "data-valid"))


def failed_lines(browser: Browser) -> list[str]:
    """The English labels of the verification page's failed lines that a person can see."""
    return [str(row.get_attribute("data-line"))
            for row in browser.page.query_selector_all("tr[data-ok=false]")
            if row.is_visible()]


def pdf_is_one_a4_page(pdf: bytes) -> bool:
    """A PDF of exactly one page whose media box is A4 (595.28 × 841.89 pt, to Chromium's
    rounding)."""
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]", pdf)
    return (pdf.startswith(b"%PDF-") and page_count(pdf) == 1 and box is not None
            and abs(float(box.group(1)) - 595.3) < 2 and abs(float(box.group(2)) - 841.9) < 2)
