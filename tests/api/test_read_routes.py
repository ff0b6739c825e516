"""GET /v1 read routes, served from an index of a scripted registry history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.errors import ApiError
from api.routes.reads import router
from chain.client import Chain
from chain.deploy import Deployment
from core.db import session_factory
from registry.ledger import Ledger
from tests.support.indexing import TONNE, History, index_into, scripted_history, sqlite_url


@dataclass
class Indexed:
    http: TestClient
    history: History
    acc: dict[str, LocalAccount]
    pool: str


@pytest.fixture(scope="module")
def indexed(
    chain: Chain,
    deployment: Deployment,
    acc: dict[str, LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Indexed]:
    """One scripted history, indexed once for the whole module; the chain is rolled back after."""
    snap = chain.rpc("evm_snapshot")
    try:
        ledger = Ledger(chain, deployment)
        history = scripted_history(ledger, acc)
        engine = index_into(sqlite_url(Path(tmp_path_factory.mktemp("reads"))), ledger)
        app = FastAPI()
        app.include_router(router)
        app.state.sessions = session_factory(engine)

        @app.exception_handler(ApiError)
        def _api_error(_: Request, exc: ApiError) -> JSONResponse:
            return JSONResponse(
                {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
                status_code=exc.status,
            )

        with TestClient(app) as http:
            yield Indexed(http, history, acc, deployment.address("CarbonCredits"))
        engine.dispose()
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def get(ix: Indexed, url: str, status: int = 200) -> Any:
    r = ix.http.get(url)
    assert r.status_code == status, r.text
    return r.json()


def test_batch_quantities_come_as_units_and_exact_tonnes(indexed: Indexed) -> None:
    b = get(indexed, f"/v1/batches/{indexed.history.batches[1]}")
    assert (b["issued_units"], b["issued"]) == (483_880_000, "483.88")
    assert (b["buffer_units"], b["buffer"]) == (48_388_000, "48.388")
    assert (b["retired_units"], b["retired"]) == (1, "0.000001")
    assert b["frozen"] is True


def test_batch_holders_flag_the_buffer_pool_and_balance_the_batch(indexed: Indexed) -> None:
    bid = indexed.history.batches[0]
    batch = get(indexed, f"/v1/batches/{bid}")
    holders = get(indexed, f"/v1/batches/{bid}/holders")["items"]
    pool = [h for h in holders if h["buffer_pool"]]
    assert [(h["address"], h["amount_units"]) for h in pool] == [
        (indexed.pool, batch["buffer_pool_units"])
    ]
    held = sum(h["amount_units"] for h in holders)
    assert held + batch["retired_units"] + batch["cancelled_units"] == batch["issued_units"]


def test_account_balances_accept_any_address_case(indexed: Indexed) -> None:
    address = indexed.acc["trader1"].address
    items = get(indexed, f"/v1/accounts/{address.lower()}/balances")["items"]
    assert [(i["batch_id"], i["amount"]) for i in items] == [
        (indexed.history.batches[0], "23.6")  # 400 - 50 given - 326.4 retired
    ]


def test_project_carries_its_location(indexed: Indexed) -> None:
    p = get(indexed, "/v1/projects/1")
    assert p["status"] == "approved"
    assert p["location"] == {
        "division_code": 450702,
        "latitude_e6": 21_783_000,
        "longitude_e6": 108_562_000,
        "latitude": "21.783",
        "longitude": "108.562",
        "area_m2": 2_500_000,
        "boundary_hash": p["location"]["boundary_hash"],
    }


def test_report_detail_shows_the_disagreeing_node(indexed: Indexed) -> None:
    r = get(indexed, f"/v1/reports/{indexed.history.disputed_report}")
    assert (r["status"], r["attested_quantity"], r["batch_id"]) == ("attested", "7", None)
    dissent = [a for a in r["attestations"] if a["agrees"] is False]
    assert [(a["node"], a["quantity"], a["votes"]) for a in dissent] == [
        (indexed.acc["oracle3"].address, "9", 1)
    ]


def test_lists_filter_by_status(indexed: Indexed) -> None:
    assert get(indexed, "/v1/reports?status=rejected")["items"][0]["id"] == (
        indexed.history.rejected_report
    )
    assert {m["status"] for m in get(indexed, "/v1/methodologies?status=approved")["items"]} == {
        "approved"
    }
    assert get(indexed, "/v1/batches?frozen=true")["total"] == 1


def test_transfers_filter_by_address_and_kind_newest_first(indexed: Indexed) -> None:
    t2 = indexed.acc["trader2"].address
    page = get(indexed, f"/v1/transfers?address={t2}")
    kinds = [(t["kind"], t["amount"]) for t in page["items"]]
    assert kinds == [("burn", "20"), ("transfer", "50"), ("transfer", "100")]
    mints = get(indexed, "/v1/transfers?kind=mint")["items"]
    assert {m["from_address"] for m in mints} == {"0x" + "00" * 20}
    assert len(mints) == 4  # developer share and buffer of two batches


def test_retirements_filter_by_holder_batch_and_case(indexed: Indexed) -> None:
    h = indexed.history
    by_case = get(indexed, "/v1/retirements?case_reference=(2025)闽0181民初123号")["items"]
    assert [(r["id"], r["amount"], r["serial_start"], r["serial_end"]) for r in by_case] == [
        (h.retirements[0], "326.4", 1, 326_400_000)
    ]
    holder = indexed.acc["trader3"].address
    assert [r["id"] for r in get(indexed, f"/v1/retirements?holder={holder}")["items"]] == [
        h.retirements[2]
    ]
    by_batch = get(indexed, f"/v1/retirements?batch_id={h.batches[0]}")["items"]
    assert [r["id"] for r in by_batch] == [h.retirements[1], h.retirements[0]]


def test_pages_have_limit_offset_and_total(indexed: Indexed) -> None:
    everything = get(indexed, "/v1/transfers?limit=500")
    page = get(indexed, "/v1/transfers?limit=2&offset=1")
    assert page["total"] == everything["total"] > 3
    assert page["items"] == everything["items"][1:3]
    assert (page["limit"], page["offset"]) == (2, 1)


def test_index_status_reports_lag_and_invariants(indexed: Indexed) -> None:
    status = get(indexed, "/v1/index/status?invariants=true")
    assert status["index_lag"] == 0
    assert status["invariant_violations"] == []
    assert status["events"] > 0 and status["registry_address"] == indexed.pool


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/v1/methodologies/999", "methodology_not_found"),
        ("/v1/projects/999", "project_not_found"),
        ("/v1/reports/999", "report_not_found"),
        ("/v1/batches/999", "batch_not_found"),
        ("/v1/batches/999/holders", "batch_not_found"),
    ],
)
def test_unknown_ids_answer_404_with_the_kind(indexed: Indexed, url: str, code: str) -> None:
    assert get(indexed, url, 404)["error"]["code"] == code


def test_malformed_address_answers_422_invalid_address(indexed: Indexed) -> None:
    body = get(indexed, "/v1/accounts/0x1234/balances", 422)
    assert body["error"]["code"] == "invalid_address"
    assert get(indexed, "/v1/transfers?address=nobody", 422)["error"]["code"] == "invalid_address"


@pytest.mark.parametrize(
    "url",
    [
        "/v1/batches/0",
        "/v1/batches/abc",
        f"/v1/batches/{2**63}",
        "/v1/transfers?limit=501",
        "/v1/transfers?limit=0",
        "/v1/retirements?offset=-1",
        "/v1/retirements?purpose=bribery",
        "/v1/projects?status=dreaming",
    ],
)
def test_malformed_parameters_answer_422(indexed: Indexed, url: str) -> None:
    get(indexed, url, 422)


def test_amounts_are_exact_for_a_whole_history(indexed: Indexed) -> None:
    total = sum(
        r["amount_units"] for r in get(indexed, "/v1/retirements?limit=500")["items"]
    )
    assert total == 326_400_000 + 20 * TONNE + 1
