"""The chain-only auditor over HTTP: invariants and provenance rebuilt from the chain on every
request, a balance altered in storage showing as a failed check naming the batch, and bad input
refused with stable codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger
from tests.support.api import Api, ApiDatabase, api_database, open_api, serving
from tests.support.audit import demo_history, set_balance


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("audit")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def test_the_invariants_of_a_sound_chain_all_pass_over_real_http(api: Api) -> None:
    demo_history(api.ledger, api.acc)
    with serving(api.http.app) as url:
        body = httpx.get(f"{url}/v1/audit/invariants", timeout=120).json()
    assert body["ok"] is True
    assert all(c["passed"] for c in body["checks"]) and len(body["checks"]) == 8


def test_a_balance_altered_in_storage_fails_the_invariants_naming_the_batch(api: Api) -> None:
    demo = demo_history(api.ledger, api.acc)
    set_balance(api.ledger, demo.batch, api.acc["trader1"].address, 0)
    body = api.get("/v1/audit/invariants")
    failed = {c["name"]: c["failures"] for c in body["checks"] if not c["passed"]}
    assert body["ok"] is False
    assert [f["object"] for f in failed["batch_conservation"]] == [f"batch {demo.batch}"]
    assert [f["object"] for f in failed["balances_match"]] == [f"batch {demo.batch}"]


def test_provenance_of_each_kind(api: Api) -> None:
    demo = demo_history(api.ledger, api.acc)
    for kind, ident in (("batch", demo.batch), ("retirement", demo.retirement),
                        ("ticket", demo.ticket), ("pledge", demo.pledge),
                        ("order", demo.order)):
        found = api.get(f"/v1/audit/provenance/{kind}/{ident}")
        assert (found["kind"], found["id"]) == (kind, ident)
    batch = api.get(f"/v1/audit/provenance/batch/{demo.batch}")
    assert batch["steps"][0]["step"] == "methodology"


def test_bad_provenance_requests_get_stable_codes(api: Api) -> None:
    assert api.error("GET", "/v1/audit/provenance/forward/1", None, None,
                     422) == "unknown_provenance_kind"
    assert api.error("GET", "/v1/audit/provenance/batch/999", None, None,
                     404) == "batch_not_found"
    assert api.error("GET", "/v1/audit/provenance/pledge/0", None, None,
                     422) == "invalid_request"
    assert api.error("GET", "/v1/audit/provenance/order/abc", None, None,
                     422) == "invalid_request"
