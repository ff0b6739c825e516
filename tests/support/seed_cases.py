"""Compensation worlds built through the HTTP API, as the consortium's members build them (this
module holds no tests): governance admits the case's members with their API keys and grants an
authority its role, the registry operator registers a methodology of a sink category, a
developer registers its project at its division code, the monitoring report is measured by the
oracle nodes from the farm's data (or attested as a quantity), verified and issued.

Members admitted here are custodial: the registry keeps their keys and relays their writes, so
they act with their API key alone, like the dev seats. The chain is reverted after every test,
so every test admits its own members (new accounts) and builds its own world.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak
from fastapi.testclient import TestClient
from web3.logs import DISCARD

from api.app import create_app
from core.units import format_units
from devkit.sample_data import FarmData
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange, open_exchange
from registry.categories import SinkCategory
from tests.support.api import Api
from tests.support.oracle_inbox import node

DAY = 86_400
BASIS = 10_000
ZERO_ADDRESS = "0x" + "00" * 20


def h(tag: str) -> str:
    """A document hash (0x-hex keccak-256 of a tag): judgments, reports, boundaries."""
    return "0x" + keccak(text=tag).hex()


def gross_for_net(net_units: int, buffer_bps: int) -> int:
    """The issuance whose share outside the buffer is at least `net_units`: the buffer is
    ⌈issued × bps / 10000⌉ (CarbonCredits rounds it up), so issued = ⌈net × 10000 / (10000 −
    bps)⌉ leaves the developer at least `net_units`."""
    return -(-net_units * BASIS // (BASIS - buffer_bps))


@dataclass
class CaseApi(Api):
    """The API as the dev seats and the members a test admits (by handle) call it."""

    keys: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def headers(self, seat: str | None) -> dict[str, str]:
        if seat in self.keys:
            return {"Authorization": f"Bearer {self.keys[seat]}"}
        return super().headers(seat)

    def address(self, who: str) -> str:
        """A member's account, admitted here or a dev seat."""
        return self.addresses[who] if who in self.addresses else self.acc[who].address

    def admit(self, handle: str, name: str, role: str | None = None) -> str:
        """Governance admits `name` as a custodial member (and grants it `role`)."""
        made = self.post("/v1/members", "governance",
                         {"name": name, "profile_hash": h(f"profile {name}")}, status=201)
        self.keys[handle], self.addresses[handle] = made["api_key"], made["address"]
        if role is not None:
            self.post(f"/v1/members/{made['address']}/roles", "governance", {"role": role},
                      status=201)
        return str(made["address"])

    # -- reads from the chain -------------------------------------------------------------

    def credits(self, who: str, batch_id: int) -> int:
        """Micro-tonnes of the batch `who` holds, read from CarbonCredits."""
        return self.ledger.balance(self.address(who), batch_id)

    def cash(self, who: str) -> int:
        """Fen `who` holds, read from CashToken."""
        token = self.ledger.c("CashToken")
        return int(self.ledger.chain.call(token.functions.balanceOf(self.address(who))))

    def chain_time(self) -> int:
        return int(self.ledger.chain.w3.eth.get_block("latest")["timestamp"])


def open_case_api(api: Api) -> CaseApi:
    """`api` with room for the members a test admits (an empty oracle inbox: the chain was
    reverted, so project ids start again)."""
    shutil.rmtree(api.db.settings.oracle_inbox, ignore_errors=True)
    return CaseApi(api.http, api.db, api.ledger, api.acc)


# -- registry -----------------------------------------------------------------------------


def methodology(api: CaseApi, code: str, name: str, category: SinkCategory,
                buffer_bps: int) -> int:
    """A methodology of `category` registered by the operator and approved by the regulator."""
    m = api.post("/v1/methodologies", "operator", {
        "code": code, "name": name, "document_hash": h(f"methodology {code}"),
        "parameters_hash": h(f"parameters {code}"), "buffer_bps": buffer_bps,
        "category": category.key}, status=201)
    api.post(f"/v1/methodologies/{m['methodology_id']}/approve", "regulator", {})
    return int(m["methodology_id"])


@dataclass(frozen=True)
class Site:
    """Where a project lies: its administrative division, a point and its area."""

    division_code: int
    latitude: str
    longitude: str
    area_m2: int


def project(api: CaseApi, developer: str, methodology_id: int, name: str, site: Site,
            crediting_start: int, crediting_end: int) -> int:
    """A project registered by `developer`, validated by the verifier, approved by the
    regulator."""
    p = api.post("/v1/projects", developer, {
        "name": name, "methodology_id": methodology_id, "division_code": site.division_code,
        "latitude": site.latitude, "longitude": site.longitude, "area_m2": site.area_m2,
        "boundary_hash": h(f"boundary {name}"), "crediting_start": crediting_start,
        "crediting_end": crediting_end, "document_hash": h(f"pdd {name}")}, status=201)
    pid = int(p["project_id"])
    assert p["developer"] == api.address(developer)
    api.post(f"/v1/projects/{pid}/validate", "verifier",
             {"validation_report_hash": h(f"validation {name}")})
    api.post(f"/v1/projects/{pid}/approve", "regulator", {})
    return pid


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def measured_report(api: CaseApi, developer: str, project_id: int, farm: FarmData,
                    state_dir: Path) -> dict[str, Any]:
    """The farm's monitoring through the API: the developer sets the project's spec and
    uploads the period's files (every record accepted), two oracle nodes compute the report
    from the inbox and attest it on chain. Returns the period as the API reports it."""
    api.call("PUT", f"/v1/oracle/projects/{project_id}/spec", developer, farm.spec)
    period = f"{farm.period.start}/{farm.period.end}"
    for name, (header, rows) in farm.files.items():
        r = api.http.put(f"/v1/oracle/projects/{project_id}/periods/{period}/files/{name}",
                         content=_csv(header, rows), headers=api.headers(developer))
        assert r.status_code == 201, r.text
        assert (r.json()["accepted"], r.json()["rejected"]) == (len(rows), 0)
    for seat in ("oracle1", "oracle2"):
        node(api.ledger, api.acc, seat, api.db.settings.oracle_inbox, state_dir).run_once()
    out: dict[str, Any] = api.get(f"/v1/oracle/projects/{project_id}/periods/{period}")
    assert (out["report_status"], out["quantity_units"]) == ("attested", farm.quantity_units)
    return out


def attested_report(api: CaseApi, project_id: int, period_start: int, period_end: int,
                    quantity: str, tag: str) -> int:
    """A report whose quantity two oracle nodes attest through /v1/reports/attest (for sinks
    no shipped calculator measures). Returns its id."""
    body = {"project_id": project_id, "period_start": period_start, "period_end": period_end,
            "merkle_root": h(f"root {tag}"), "quantity": quantity,
            "report_hash": h(f"report {tag}")}
    api.post("/v1/reports/attest", "oracle1", body, status=201)
    second = api.post("/v1/reports/attest", "oracle2", body, status=201)
    assert second["status"] == "attested"
    return int(second["report_id"])


def verify_and_issue(api: CaseApi, report_id: int, quantity_units: int) -> dict[str, Any]:
    """The verifier signs the report's whole quantity; the operator issues its batch."""
    api.post(f"/v1/reports/{report_id}/verify", "verifier", {
        "verified_quantity": format_units(quantity_units),
        "verification_hash": h(f"verification {report_id}")})
    batch: dict[str, Any] = api.post("/v1/batches", "operator", {"report_id": report_id},
                                     status=201)
    assert batch["issued_units"] == quantity_units
    return batch


def deposit(api: CaseApi, who: str, fen: int, reference: str) -> None:
    """The settlement bank books `fen` paid in by `who` (mints the deposit token)."""
    api.post("/v1/exchange/cash/deposits", "bank",
             {"account": api.address(who), "amount_fen": fen, "reference": reference},
             status=201)


def transfer(api: CaseApi, sender: str, to: str, batch_id: int, tonnes: str) -> None:
    api.post("/v1/transfers", sender,
             {"to": api.address(to), "batch_id": batch_id, "amount": tonnes}, status=201)


# -- what a transaction did ----------------------------------------------------------------


def credit_moves(api: CaseApi, tx_hash: str) -> list[tuple[str, str, int]]:
    """Every movement of credits in the transaction (ERC-1155 transfers, mints and burns) as
    (from, to, amount), read from its receipt."""
    receipt = api.ledger.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    credits = api.ledger.c("CarbonCredits")
    singles = credits.events.TransferSingle().process_receipt(receipt, errors=DISCARD)
    batches = credits.events.TransferBatch().process_receipt(receipt, errors=DISCARD)
    return [*((e["args"]["from"], e["args"]["to"], int(e["args"]["value"])) for e in singles),
            *((e["args"]["from"], e["args"]["to"], int(sum(e["args"]["values"])))
              for e in batches)]


def retirements_in(api: CaseApi, tx_hash: str) -> list[int]:
    """The ids of the retirements the transaction recorded."""
    receipt = api.ledger.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    events = api.ledger.c("CarbonCredits").events.Retired().process_receipt(
        receipt, errors=DISCARD)
    return [int(e["args"]["retirementId"]) for e in events]


# -- the exchange -------------------------------------------------------------------------


@contextmanager
def exchange_api(api: CaseApi, directory: Path, fee_account: str, maker_bps: int,
                 taker_bps: int) -> Iterator[tuple[CaseApi, Exchange]]:
    """The same API with the exchange running in it (journal in `directory`), its fees set by
    the exchange seat on chain first (fees have no HTTP route); the settlement worker is run
    by the caller (`ex.worker.run_once()`), as the exchange's own loop would."""
    SettlementChain(api.ledger).set_fees(api.acc["exchange"], api.address(fee_account),
                                         maker_bps, taker_bps)
    ex = open_exchange(api.ledger, directory, api.acc["exchange"], balance_ttl=0)
    try:
        app = create_app(api.db.settings, api.ledger, api.db.engine, ex.service,
                         relayer=api.acc["governance"])
        with TestClient(app) as http:
            yield CaseApi(http, api.db, api.ledger, api.acc, api.keys, api.addresses), ex
    finally:
        ex.stop()
