"""What every certificate and verification page shares: templates, QR codes, PDFs, headers.

Certificates are documents a court clerk files and anyone checks later, so they are made one
way, whatever they certify (a retirement now, a compensation order's fulfilment next):

- one page frame, `templates/certificate_frame.html`: an A4 sheet (`@page` size and margins),
  the bilingual header (中文 first, English under it), the QR block and footer, the fonts; a
  certificate extends it and fills `rows`. Bilingual labels are macros in
  `templates/labels.html` (`row(zh, en)`, `division(code)`);
- one verification frame, `templates/verification.html`: a page (not a sheet) listing every
  line the paper states, what the chain records, and pass or fail, line by line;
- the QR code carries the verification page's URL *with the paper's claims in its query*, so the
  page re-checks exactly what was printed: a paper altered after printing, with its real id but
  another amount, verifies as failed (`claims_url`);
- the PDF is the HTML printed by Chromium (`api.pdf`), one A4 page;
- everything is self-contained: inline styles, an inline SVG QR code, system fonts; no URL but the
  registry's own appears on a page (CSP `default-src 'none'`), so pages work offline and print
  the same everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.errors import ApiError
from api.pdf import PdfUnavailable, render_pdf
from api.text import visible
from core.config import Settings
from core.divisions import division_name

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Pages are self-contained: inline styles and an inline SVG, nothing fetched.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# The page margin of templates/certificate_frame.html's @page rule (the PDF printer measures
# the printable height with it).
SHEET_MARGIN_MM = 12.0
# A text claim longer than this (URL-encoded) travels in the QR code as its keccak-256 hash:
# a QR code holds at most 2,953 bytes, and one dense enough for that no phone reads off paper.
MAX_TEXT_CLAIM_BYTES = 240


@functools.cache
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    # text read from the chain is shown, never obeyed (api.text); pages wrap it in <bdi>
    env.filters["visible"] = visible
    env.globals["division_name"] = division_name
    return env


def render_page(template: str, **context: Any) -> str:
    return templates().get_template(template).render(**context)


def qr_svg(data: str) -> str:
    """An inline SVG QR code (vector; no raster imaging library involved). Inline SVG needs no
    XML namespace in HTML, and without it a page holds no URL but the registry's."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg: str = image.to_string(encoding="unicode")
    return svg.replace(' xmlns:svg="http://www.w3.org/2000/svg"', "").replace(
        ' xmlns="http://www.w3.org/2000/svg"', "")


def claims_url(url: str, claims: Mapping[str, str | int | None]) -> str:
    """`url` with the claims a paper states as its query (None left out), in the given order."""
    query = urlencode({k: str(v) for k, v in claims.items() if v is not None})
    return f"{url}?{query}" if query else url


def html_page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})


def pdf_response(html: str, settings: Settings, filename: str) -> Response:
    """A certificate's HTML as a one-page A4 PDF; 503 `pdf_unavailable` when Chromium cannot
    print now (missing, busy or failing), with the reason in the details."""
    try:
        pdf = render_pdf(html, margin_mm=SHEET_MARGIN_MM, chromium=settings.chromium_path)
    except PdfUnavailable as exc:
        raise ApiError(503, "pdf_unavailable", str(exc), {"reason": exc.reason},
                       headers={"Retry-After": "5"} if exc.reason == "busy" else None) from None
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        "Content-Security-Policy": PAGE_CSP,
    })


@dataclass(frozen=True)
class Frame:
    """What `templates/certificate_frame.html` needs of any certificate (the context key is
    `frame`); the certificate's own lines go in its `rows` block."""

    title_zh: str  # 碳汇注销证明
    title_en: str  # Carbon Credit Retirement Certificate
    number: str  # the certificate number printed under the title, e.g. TH-R000001
    verify_url: str  # the verification page, printed under the QR code (without the claims)
    qr_url: str  # what the QR code holds: claims_url(verify_url, the paper's claims)

    @property
    def qr(self) -> str:
        """The QR code of `qr_url`, inline SVG (on screen it is also a link to it)."""
        return qr_svg(self.qr_url)


@dataclass(frozen=True)
class Line:
    """One line of a verification page: a label in both languages, what the paper states and
    what the chain records (None where the line is a check, not a claim), pass or fail."""

    label_zh: str
    label_en: str
    ok: bool
    stated: str | None = None
    recorded: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class VerificationPage:
    """What `templates/verification.html` needs (the context key is `page`), for any
    certificate: `claims` are the paper's lines as the QR code carried them, `checks` the
    chain's own integrity checks, `record` the chain's record as (中文, English, value) rows for
    a person to compare with the paper. Valid only when found and every line passes."""

    title_zh: str  # 碳汇注销证明核验
    title_en: str  # Retirement certificate verification
    number: str  # the certificate number, e.g. TH-R000001
    found: bool
    claims: list[Line]
    checks: list[Line]
    record: list[tuple[str, str, str]]
    certificate_url: str | None = None
    note_zh: str = ""
    note_en: str = ""

    @property
    def valid(self) -> bool:
        return self.found and all(line.ok for line in [*self.claims, *self.checks])
