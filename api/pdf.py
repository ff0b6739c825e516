"""HTML pages to one-page A4 PDFs, printed by headless Chromium.

A court files paper: the certificate's PDF must be what the browser shows, on one A4 sheet,
with 中文 set in a real CJK font. Chromium does the printing (Debian's `/usr/bin/chromium` with
`fonts-noto-cjk`, both installed by `scripts/bootstrap`), driven by Playwright's Python package
with the system executable: `playwright install` downloads a browser build of its own and is
never used.

One page, always: before printing, the page is laid out at the printable width of an A4 sheet
(the template's `@page` margins) in print media, and if it is taller than the sheet it is printed
scaled down to fit — at the largest scale that fits, measured at the wider layout that scale
gives (`_fitting_scale`) — never cut and never spilled onto a second page (a long beneficiary
written straight on chain, or an order with many retirements, is still shown whole).

Offline, always: the page is given as a string and every request it would make (a stylesheet, an
image, a font) is refused, so a PDF is made from the HTML alone and nothing on a certificate can
make the server fetch anything.

Chromium is optional for the API as a whole (the HTML certificate and verification need none):
without it, or without Playwright, rendering raises `PdfUnavailable`, which the routes answer as
503 `pdf_unavailable`, never a 500.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

# Debian's Chromium; TANHUI_CHROMIUM_PATH points elsewhere (core.config.Settings.chromium_path)
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")

# A4 in CSS pixels (96 per inch); the page margins are the template's own (@page).
MM = 96 / 25.4
A4_WIDTH_MM, A4_HEIGHT_MM = 210.0, 297.0
# Two prints at a time at most: each is a Chromium process of its own (~150 MB, a CPU for a
# second); more requests wait their turn for up to WAIT_SECONDS, then are refused as busy.
MAX_CONCURRENT = 2
WAIT_SECONDS = 30.0
TIMEOUT_MS = 30_000
MIN_SCALE = 0.5  # Chromium prints at 0.1–2; below one half a page is no longer readable

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class PdfUnavailable(Exception):
    """No PDF can be made now: Chromium or Playwright is missing, busy, or failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # chromium_missing | playwright_missing | busy | render_failed


def page_count(pdf: bytes) -> int:
    """Pages in a PDF as Chromium writes it (one uncompressed `/Type /Page` per page)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _fitting_scale(page: Any, width: int, height: float) -> float:
    """The largest print scale (MIN_SCALE..1) at which the page fits one sheet. Printed at
    scale s, Chromium lays the page out s times narrower in real size, i.e. at width/s CSS
    pixels, where text wraps less and the page is shorter; so each candidate is measured at its
    own layout width (a bisection), not only at scale 1."""

    def fits(s: float) -> bool:
        # a viewport one pixel high, so that the scroll height is the content's own
        page.set_viewport_size({"width": round(width / s), "height": 1})
        tall = float(page.evaluate(
            "Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"))
        return s * tall <= height - 2

    if fits(1.0):
        return 1.0
    lo, hi = MIN_SCALE, 1.0
    for _ in range(7):  # to within 0.004 of the best scale
        mid = (lo + hi) / 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def render_pdf(html: str, *, margin_mm: float, chromium: Path = DEFAULT_CHROMIUM) -> bytes:
    """`html` printed to a one-page A4 PDF with backgrounds. `margin_mm` is the page margin the
    template's `@page` rule sets (used to measure the printable height)."""
    if not chromium.is_file():
        raise PdfUnavailable("chromium_missing", f"no Chromium at {chromium} (scripts/bootstrap "
                             "installs Debian's chromium package)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfUnavailable("playwright_missing", "Playwright's Python package is not "
                             "installed (pip install playwright)") from None
    if not _slots.acquire(timeout=WAIT_SECONDS):
        raise PdfUnavailable("busy", "every PDF printer is busy; retry shortly")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), timeout=TIMEOUT_MS)
            try:
                width = round((A4_WIDTH_MM - 2 * margin_mm) * MM)
                height = (A4_HEIGHT_MM - 2 * margin_mm) * MM
                page = browser.new_page(viewport={"width": width, "height": round(height)})
                page.set_default_timeout(TIMEOUT_MS)
                page.route("**/*", lambda route: route.abort())  # offline: nothing is fetched
                page.emulate_media(media="print")
                page.set_content(html, wait_until="load")
                page.evaluate("document.fonts.ready.then(() => true)")
                scale = _fitting_scale(page, width, height)
                pdf: bytes = page.pdf(format="A4", print_background=True, scale=scale,
                                      prefer_css_page_size=True)
                return pdf
            finally:
                browser.close()
    except (PlaywrightError, OSError, RuntimeError) as exc:  # the driver or the browser failed
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise PdfUnavailable("render_failed", f"Chromium could not print the page: {first}") \
            from None
    finally:
        _slots.release()
