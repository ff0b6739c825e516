"""The API documentation pages work on a network with no internet: Swagger UI at /docs and
ReDoc at /redoc load every script, style and icon from the registry itself and list the
operations (headless Chromium, every request outside the registry refused). Screenshots are
saved in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.browser import Browser, artifact, open_browser, require_browser


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("docs-pages")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


@pytest.fixture
def browser(api: Api) -> Iterator[Browser]:
    require_browser()
    with open_browser(api.http, PUBLIC_URL) as b:
        yield b
    assert b.outside == [], f"the docs fetched from outside the registry: {b.outside}"


def test_swagger_ui_lists_the_operations_with_the_network_blocked(
        api: Api, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{PUBLIC_URL}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    page.screenshot(path=artifact("api-docs-swagger.png"))
    shown = page.locator(".opblock").count()
    operations = sum(len(ops) for ops in api.get("/openapi.json")["paths"].values())
    assert shown == operations > 50
    assert page.locator(".opblock-summary-path", has_text="/v1/projects").count() >= 1


def test_redoc_lists_the_operations_with_the_network_blocked(browser: Browser) -> None:
    page = browser.page
    page.goto(f"{PUBLIC_URL}/redoc")
    page.wait_for_selector("[data-section-id^='operation/']", state="attached", timeout=30_000)
    page.screenshot(path=artifact("api-docs-redoc.png"))
    assert page.locator("[data-section-id^='operation/']").count() > 50


def test_only_the_listed_documentation_files_are_served(api: Api) -> None:
    r = api.http.get("/assets/docs/swagger-ui-bundle.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 100_000
    for name in ("package.json", "..%2Fpackage.json", "index.html"):
        assert api.http.get(f"/assets/docs/{name}").status_code == 404


def test_the_redoc_bundle_names_no_outside_address_it_would_fetch(api: Api) -> None:
    body = api.http.get("/assets/docs/redoc.standalone.js").content
    assert b"cdn.redoc.ly" not in body
    assert b"/assets/docs/favicon-32x32.png" in body
