"""Refused requests: each answers its stable error code, and nothing happens on chain (no block
is mined, no balance or counter moves)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deploy import Deployment
from devkit.scenario import Batch, Scenario, doc
from registry.ledger import Ledger
from tests.support.api import Api, ApiDatabase, api_database, open_api

HASH = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-errors")), acc)


@dataclass(frozen=True)
class Prepared:
    """The module's batch and a confirmed 200 t typhoon loss of its project."""

    batch: Batch
    typhoon: int


@dataclass
class Ctx:
    api: Api
    batch: Batch
    acc: dict[str, LocalAccount]
    typhoon: int

    @property
    def b(self) -> int:
        return self.batch.batch_id

    def address(self, seat: str) -> str:
        return self.acc[seat].address


@pytest.fixture(scope="module")
def prepared(chain: Chain, deployment: Deployment,
             acc: dict[str, LocalAccount]) -> Iterator[Prepared]:
    """One issued batch for the module (the developer holds 900 t) and a confirmed disturbance
    of its project; each test then runs in its own snapshot (the `ledger` fixture)."""
    snap = chain.rpc("evm_snapshot")
    try:
        s = Scenario(Ledger(chain, deployment), acc)
        batch = s.batch(quantity=1_000_000_000)
        yield Prepared(batch, s.disturbance(batch.project_id, 200_000_000))
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


@pytest.fixture
def ctx(db: ApiDatabase, prepared: Prepared, ledger: Ledger,
        acc: dict[str, LocalAccount]) -> Iterator[Ctx]:
    with open_api(db, ledger, acc).http as http:
        yield Ctx(Api(http, db, ledger, acc), prepared.batch, acc, prepared.typhoon)


def chain_state(c: Ctx) -> tuple[Any, ...]:
    ledger = c.api.ledger

    def count(contract: str, name: str) -> int:
        return int(ledger.chain.call(getattr(ledger.c(contract).functions, name)()))

    return (
        ledger.chain.w3.eth.block_number,
        tuple(ledger.balance(c.address(s), c.b) for s in ("developer", "trader1", "outsider")),
        ledger.batch(c.b),
        count("CarbonCredits", "batchCount"),
        count("CarbonCredits", "retirementCount"),
        count("MethodologyRegistry", "methodologyCount"),
        count("ProjectRegistry", "projectCount"),
        count("MonitoringReports", "reportCount"),
        count("Consortium", "memberCount"),
    )


Body = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Case:
    id: str
    seat: str | None
    path: Callable[[Ctx], str]
    body: Body
    status: int
    code: str


def transfer(amount: Any = "1", to: str | None = None, **extra: Any) -> Body:
    return lambda c: {"to": to or c.address("trader1"), "batch_id": c.b, "amount": amount,
                      **extra}


def retirement(**fields: Any) -> Body:
    def body(c: Ctx) -> dict[str, Any]:
        base = {"batch_id": c.b, "amount": "1", "beneficiary": "钦州港务集团",
                "purpose": "voluntary"}
        return {**base, **fields}
    return body


def const(path: str) -> Callable[[Ctx], str]:
    return lambda c: path


TRANSFERS = const("/v1/transfers")
RETIREMENTS = const("/v1/retirements")
NOT_MEMBER = "0x" + "7a" * 20

CASES = [
    # amounts
    Case("zero amount", "developer", TRANSFERS, transfer("0"), 422, "amount_not_positive"),
    Case("negative amount", "developer", TRANSFERS, transfer("-5"), 422, "amount_not_positive"),
    Case("finer than a gram", "developer", TRANSFERS, transfer("0.0000001"), 422,
         "amount_too_precise"),
    Case("amount as a JSON number", "developer", TRANSFERS, transfer(5), 422, "invalid_amount"),
    Case("amount as a float", "developer", TRANSFERS, transfer(1.5), 422, "invalid_amount"),
    Case("exponent notation", "developer", TRANSFERS, transfer("1e3"), 422, "invalid_amount"),
    Case("not a number", "developer", TRANSFERS, transfer("ten"), 422, "invalid_amount"),
    Case("padded amount", "developer", TRANSFERS, transfer(" 1"), 422, "invalid_amount"),
    Case("beyond the registry's range", "developer", TRANSFERS,
         transfer("99999999999999999999"), 422, "amount_too_large"),
    Case("retire zero", "trader1", RETIREMENTS, retirement(amount="0.000000"), 422,
         "amount_not_positive"),
    # addresses, ids, types, shape
    Case("short address", "developer", TRANSFERS, transfer(to="0x1234"), 422, "invalid_address"),
    Case("wrong checksum", "developer", TRANSFERS,
         transfer(to="0x70997970c51812dc3A010C7d01b50e0d17dc79C8"), 422, "invalid_address"),
    Case("batch id as a string", "developer", TRANSFERS,
         lambda c: {"to": c.address("trader1"), "batch_id": str(c.b), "amount": "1"}, 422,
         "invalid_request"),
    Case("batch id zero", "developer", TRANSFERS,
         lambda c: {"to": c.address("trader1"), "batch_id": 0, "amount": "1"}, 422,
         "invalid_request"),
    Case("batch id true", "developer", TRANSFERS,
         lambda c: {"to": c.address("trader1"), "batch_id": True, "amount": "1"}, 422,
         "invalid_request"),
    Case("unknown field", "developer", TRANSFERS, transfer(memo="hi"), 422, "invalid_request"),
    Case("missing field", "developer", TRANSFERS, lambda c: {"batch_id": c.b, "amount": "1"},
         422, "invalid_request"),
    Case("body is a list", "developer", TRANSFERS, lambda c: [1, 2], 422, "invalid_request"),
    Case("unknown purpose", "trader1", RETIREMENTS, retirement(purpose="gift"), 422,
         "invalid_request"),
    Case("compensation without a case", "developer", RETIREMENTS,
         retirement(purpose="ecological_compensation", case_reference=" "), 422,
         "case_reference_required"),
    Case("empty beneficiary", "developer", RETIREMENTS, retirement(beneficiary="  "), 422,
         "invalid_text"),
    Case("control characters", "developer", RETIREMENTS, retirement(beneficiary="a\u0000b"),
         422, "invalid_text"),
    Case("bidi override in a beneficiary", "developer", RETIREMENTS,
         retirement(beneficiary="Shengsi \u202eProcuratorate"), 422, "invalid_text"),
    Case("zero-width space in a case reference", "developer", RETIREMENTS,
         retirement(purpose="ecological_compensation",
                    case_reference="(2025)\u200b闽0181民初123号"), 422, "invalid_text"),
    Case("look-alike letters in a beneficiary", "developer", RETIREMENTS,
         retirement(beneficiary="B\u0430nk of Qinzhou"), 422, "invalid_text"),
    Case("byte-order mark in a member name", "operator", const("/v1/members"),
         lambda c: {"address": NOT_MEMBER, "name": "\ufeffQinzhou Port"},
         422, "invalid_text"),
    Case("hash too short", "operator", const("/v1/methodologies"),
         lambda c: {"code": "X", "name": "X", "document_hash": "0x12", "buffer_bps": 0,
                    "category": "mangrove"}, 422,
         "invalid_hash"),
    Case("zero document hash", "operator", const("/v1/methodologies"),
         lambda c: {"code": "X", "name": "X", "document_hash": "0x" + "00" * 32,
                    "buffer_bps": 0, "category": "mangrove"}, 422, "zero_hash"),
    Case("buffer above 50%", "operator", const("/v1/methodologies"),
         lambda c: {"code": "X", "name": "X", "document_hash": HASH, "buffer_bps": 5001,
                    "category": "mangrove"}, 422,
         "invalid_request"),
    Case("reversed crediting period", "developer", const("/v1/projects"),
         lambda c: {"name": "P", "methodology_id": c.batch.methodology_id,
                    "division_code": 450702, "latitude": "21.7", "longitude": "108.5",
                    "area_m2": 1, "boundary_hash": HASH, "crediting_start": 2,
                    "crediting_end": 1}, 422, "invalid_period"),
    Case("latitude off the globe", "developer", const("/v1/projects"),
         lambda c: {"name": "P", "methodology_id": c.batch.methodology_id,
                    "division_code": 450702, "latitude": "91", "longitude": "108.5",
                    "area_m2": 1, "boundary_hash": HASH, "crediting_start": 1,
                    "crediting_end": 2}, 422, "invalid_coordinate"),
    Case("id in the path not a number", "regulator", const("/v1/batches/abc/freeze"),
         lambda c: {}, 422, "invalid_request"),
    Case("negative id in the path", "regulator", const("/v1/batches/-1/freeze"),
         lambda c: {}, 422, "invalid_request"),
    # unknown objects
    Case("unknown batch", "developer", TRANSFERS,
         lambda c: {"to": c.address("trader1"), "batch_id": 999, "amount": "1"}, 404,
         "batch_not_found"),
    Case("retire from an unknown batch", "developer", RETIREMENTS, retirement(batch_id=999),
         404, "batch_not_found"),
    Case("unknown methodology", "regulator", const("/v1/methodologies/999/approve"),
         lambda c: {}, 404, "methodology_not_found"),
    Case("unknown project", "verifier", const("/v1/projects/999/validate"),
         lambda c: {"validation_report_hash": HASH}, 404, "project_not_found"),
    Case("unknown report", "verifier", const("/v1/reports/999/verify"),
         lambda c: {"verified_quantity": "1", "verification_hash": HASH}, 404,
         "report_not_found"),
    Case("issue an unknown report", "operator", const("/v1/batches"),
         lambda c: {"report_id": 999}, 404, "report_not_found"),
    Case("freeze an unknown batch", "regulator", const("/v1/batches/999/freeze"), lambda c: {},
         404, "batch_not_found"),
    # state
    Case("recipient not a member", "developer", TRANSFERS, transfer(to=NOT_MEMBER), 409,
         "recipient_not_member"),
    Case("recipient is the outsider", "developer", TRANSFERS,
         lambda c: transfer(to=c.address("outsider"))(c), 409, "recipient_not_member"),
    Case("more than held", "developer", TRANSFERS, transfer("900.000001"), 409,
         "insufficient_balance"),
    Case("retire what others hold", "trader1", RETIREMENTS, retirement(), 409,
         "insufficient_balance"),
    Case("issue a report twice", "operator", const("/v1/batches"),
         lambda c: {"report_id": c.batch.report_id}, 409, "chain_report_already_issued"),
    Case("verify a verified report", "verifier",
         lambda c: f"/v1/reports/{c.batch.report_id}/verify",
         lambda c: {"verified_quantity": "1", "verification_hash": HASH}, 409,
         "invalid_report_status"),
    Case("unfreeze a batch that is not frozen", "regulator",
         lambda c: f"/v1/batches/{c.b}/unfreeze", lambda c: None, 409, "batch_not_frozen"),
    Case("cancel more than the buffer", "regulator",
         lambda c: f"/v1/batches/{c.b}/cancel-buffer",
         lambda c: {"amount": "100.000001", "disturbance_id": c.typhoon}, 409,
         "insufficient_buffer"),
    Case("cancel more than the confirmed loss", "regulator",
         lambda c: f"/v1/batches/{c.b}/cancel-buffer",
         lambda c: {"amount": "200.000001", "disturbance_id": c.typhoon}, 409, "loss_exceeded"),
    Case("cancel against an unknown disturbance", "regulator",
         lambda c: f"/v1/batches/{c.b}/cancel-buffer",
         lambda c: {"amount": "1", "disturbance_id": 999}, 404, "disturbance_not_found"),
    Case("cancel against a bare reason hash", "regulator",
         lambda c: f"/v1/batches/{c.b}/cancel-buffer",
         lambda c: {"amount": "1", "reason_hash": HASH}, 422, "invalid_request"),
    Case("duplicate methodology code", "operator", const("/v1/methodologies"),
         lambda c: {"code": "CM-BC-001-V01", "name": "X", "document_hash": HASH,
                    "buffer_bps": 0, "category": "mangrove"}, 409, "methodology_code_exists"),
    Case("validate an approved project", "verifier", const("/v1/projects/1/validate"),
         lambda c: {"validation_report_hash": HASH}, 409, "invalid_project_status"),
    Case("admit an existing member", "governance", const("/v1/members"),
         lambda c: {"name": "again", "address": c.address("trader1")}, 409, "already_member"),
    # authentication and roles
    Case("no API key", None, TRANSFERS, transfer(), 401, "unauthenticated"),
    Case("outsider with a key", "outsider", TRANSFERS, transfer(), 403, "forbidden_role"),
    Case("member registering a methodology", "trader1", const("/v1/methodologies"),
         lambda c: {"code": "X", "name": "X", "document_hash": HASH, "buffer_bps": 0,
                    "category": "mangrove"}, 403,
         "forbidden_role"),
    Case("operator approving", "operator", const("/v1/methodologies/1/approve"), lambda c: {},
         403, "forbidden_role"),
    Case("trader freezing a batch", "trader1", lambda c: f"/v1/batches/{c.b}/freeze",
         lambda c: {}, 403, "forbidden_role"),
    Case("oracle issuing", "oracle1", const("/v1/batches"),
         lambda c: {"report_id": c.batch.report_id}, 403, "forbidden_role"),
    Case("verifier granting a role", "verifier",
         lambda c: f"/v1/members/{c.address('trader1')}/roles", lambda c: {"role": "verifier"},
         403, "forbidden_role"),
    Case("trader admitting a member", "trader2", const("/v1/members"),
         lambda c: {"name": "x"}, 403, "forbidden_role"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_requests_change_nothing(ctx: Ctx, case: Case) -> None:
    before = chain_state(ctx)
    code = ctx.api.error("POST", case.path(ctx), case.seat, case.body(ctx), case.status)
    assert code == case.code
    assert chain_state(ctx) == before


def test_forbidden_role_names_the_role_required(ctx: Ctx) -> None:
    r = ctx.api.raw("POST", f"/v1/batches/{ctx.b}/freeze", "trader1", {})
    assert r.json()["error"]["details"] == {"required_role": "regulator",
                                           "address": ctx.address("trader1")}


def test_insufficient_balance_says_how_much_is_held(ctx: Ctx) -> None:
    r = ctx.api.raw("POST", "/v1/transfers", "developer", transfer("1000")(ctx))
    details = r.json()["error"]["details"]
    assert (details["available"], details["requested"]) == ("900", "1000")


def test_chain_refusals_carry_the_decoded_error(ctx: Ctx) -> None:
    r = ctx.api.raw("POST", "/v1/batches", "operator", {"report_id": ctx.batch.report_id})
    assert r.json()["error"]["details"] == {
        "error": "ReportAlreadyIssued",
        "args": {"reportId": ctx.batch.report_id, "batchId": ctx.b},
    }


def test_validation_errors_list_the_fields(ctx: Ctx) -> None:
    r = ctx.api.raw("POST", "/v1/transfers", "developer",
                    {"to": "nope", "batch_id": "x", "amount": "0"})
    error = r.json()["error"]
    assert error["code"] == "invalid_address"  # the first field with a stable code
    fields = {tuple(e["loc"]): e["type"] for e in error["details"]}
    assert fields == {("body", "to"): "invalid_address", ("body", "batch_id"): "int_type",
                      ("body", "amount"): "amount_not_positive"}


def test_malformed_json_is_invalid_request(ctx: Ctx) -> None:
    before = chain_state(ctx)
    r = ctx.api.http.post("/v1/transfers", content=b"{not json",
                          headers={**ctx.api.headers("developer"),
                                   "content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    assert chain_state(ctx) == before


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer th_not-a-key"},
    {"X-API-Key": "th_not-a-key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
])
def test_bad_credentials_are_401(ctx: Ctx, headers: dict[str, str]) -> None:
    r = ctx.api.http.post("/v1/transfers", json=transfer()(ctx), headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


def test_the_x_api_key_header_works_too(ctx: Ctx) -> None:
    r = ctx.api.http.post("/v1/transfers", json=transfer("1")(ctx),
                          headers={"X-API-Key": ctx.api.db.keys["developer"]})
    assert r.status_code == 201, r.text


def test_frozen_batch_and_frozen_accounts(ctx: Ctx) -> None:
    ledger, api = ctx.api.ledger, ctx.api
    ledger.freeze_batch(ctx.acc["regulator"], ctx.b, doc("order"))
    before = chain_state(ctx)
    assert api.error("POST", "/v1/transfers", "developer", transfer()(ctx), 409) == "batch_frozen"
    assert api.error("POST", "/v1/retirements", "developer", retirement()(ctx), 409) == (
        "batch_frozen")
    assert chain_state(ctx) == before
    ledger.unfreeze_batch(ctx.acc["regulator"], ctx.b, doc("lifted"))

    ledger.freeze_account(ctx.acc["regulator"], ctx.address("developer"), doc("order"))
    ledger.freeze_account(ctx.acc["regulator"], ctx.address("trader2"), doc("order"))
    before = chain_state(ctx)
    assert api.error("POST", "/v1/transfers", "developer", transfer()(ctx), 409) == (
        "account_frozen")
    assert api.error("POST", "/v1/retirements", "developer", retirement()(ctx), 409) == (
        "account_frozen")
    assert chain_state(ctx) == before
    ledger.unfreeze_account(ctx.acc["regulator"], ctx.address("developer"), doc("lifted"))
    before = chain_state(ctx)
    assert api.error("POST", "/v1/transfers", "developer",
                     transfer(to=ctx.address("trader2"))(ctx), 409) == "recipient_frozen"
    assert chain_state(ctx) == before


def test_a_role_revoked_on_chain_stops_working_in_the_api_at_once(ctx: Ctx) -> None:
    ledger = ctx.api.ledger
    ledger.revoke_role(ctx.acc["governance"], "REGULATOR", ctx.address("regulator"))
    before = chain_state(ctx)
    assert ctx.api.error("POST", f"/v1/batches/{ctx.b}/freeze", "regulator", {}, 403) == (
        "forbidden_role")
    assert chain_state(ctx) == before
