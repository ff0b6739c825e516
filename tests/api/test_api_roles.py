"""Role holders keep each other in check through the API too: the member routes and the own-key
relay refuse what the contracts refuse, with stable codes, and nothing is sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.custody import provision_api_account
from chain.client import Chain
from chain.deploy import Deployment
from chain.metatx import calldata
from core.db import session_factory
from devkit.scenario import Batch, Scenario, doc
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api, relay_body

HASH = "0x" + "ef" * 32


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-roles")), acc)


@dataclass(frozen=True)
class Prepared:
    batch: Batch
    scenario: Scenario  # fork it for more reports of the batch's project


@pytest.fixture(scope="module")
def prepared(chain: Chain, deployment: Deployment,
             acc: dict[str, LocalAccount]) -> Iterator[Prepared]:
    snap = chain.rpc("evm_snapshot")
    try:
        s = Scenario(Ledger(chain, deployment), acc)
        yield Prepared(s.batch(quantity=100 * TONNE), s)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


@pytest.fixture
def api(db: ApiDatabase, prepared: Prepared, ledger: Ledger,
        acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def own_key_operator(api: Api) -> tuple[LocalAccount, dict[str, str]]:
    """A second registry operator that keeps its own key (it acts through /v1/relay)."""
    own: LocalAccount = Account.create()
    with session_factory(api.db.engine)() as session:
        made = provision_api_account(session, api.db.settings, "第二登记机构 Second registry",
                                     address=own.address)
        session.commit()
    api.ledger.admit(api.acc["governance"], own.address, "第二登记机构 Second registry")
    api.ledger.grant_role(api.acc["governance"], "REGISTRY_OPERATOR", own.address)
    return own, {"Authorization": f"Bearer {made.api_key}"}


# -- removal ------------------------------------------------------------------------------------


def test_the_operator_cannot_remove_the_regulator_through_the_relay(api: Api) -> None:
    operator, headers = own_key_operator(api)
    regulator = api.acc["regulator"].address
    remove = api.ledger.c("Consortium").functions.remove(regulator)
    block = api.ledger.chain.w3.eth.block_number
    r = api.http.post("/v1/relay", json=relay_body(api, operator, "Consortium", calldata(remove)),
                      headers=headers)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "governance_required"
    assert api.ledger.is_member(regulator) and api.ledger.has_role("REGULATOR", regulator)
    assert api.ledger.chain.w3.eth.block_number == block  # nothing was sent


@pytest.mark.parametrize("seat", ["regulator", "exchange", "bank"])
def test_the_operator_cannot_remove_a_role_holder(api: Api, seat: str) -> None:
    target = api.acc[seat].address
    assert api.error("DELETE", f"/v1/members/{target}", "operator", None, 403) == (
        "governance_required")
    assert api.ledger.is_member(target)


def test_the_operator_cannot_remove_the_settlement_contract(api: Api) -> None:
    settlement = api.ledger.deployment.address("Settlement")
    assert api.error("DELETE", f"/v1/members/{settlement}", "operator", None, 403) == (
        "governance_required")


def test_the_operator_removes_a_plain_member(api: Api) -> None:
    trader = api.acc["trader3"].address
    out = api.call("DELETE", f"/v1/members/{trader}", "operator")
    assert (out["removed"], out["revoked_roles"]) == (True, [])
    assert not api.ledger.is_member(trader)


def test_governance_removes_a_role_holder_who_returns_without_its_role(api: Api) -> None:
    regulator = api.acc["regulator"].address
    out = api.call("DELETE", f"/v1/members/{regulator}", "governance")
    assert out["revoked_roles"] == ["regulator"]
    api.ledger.admit(api.acc["operator"], regulator, "再入盟 Re-admitted")
    assert api.error("POST", f"/v1/members/{api.acc['trader1'].address}/freeze", "regulator",
                     {"reason_hash": HASH}, 403) == "forbidden_role"


# -- roles and governance -----------------------------------------------------------------------


def test_governance_is_not_granted_as_a_role(api: Api) -> None:
    trader = api.acc["trader1"].address
    assert api.error("POST", f"/v1/members/{trader}/roles", "governance",
                     {"role": "governance"}, 422) == "invalid_request"
    assert not api.ledger.holds_role("GOVERNANCE", trader)


def test_governance_revokes_a_role(api: Api) -> None:
    api.call("DELETE", f"/v1/members/{api.acc['bank'].address}/roles/bank", "governance")
    assert not api.ledger.holds_role("BANK", api.acc["bank"].address)


def test_an_oracle_is_not_revoked_below_the_threshold(api: Api) -> None:
    api.ledger.set_threshold(api.acc["governance"], 3)
    oracle = api.acc["oracle3"].address
    assert api.error("DELETE", f"/v1/members/{oracle}/roles/oracle", "governance", None,
                     409) == "chain_oracle_quorum_unreachable"
    assert api.ledger.holds_role("ORACLE", oracle)


def test_the_regulator_cannot_freeze_governance(api: Api) -> None:
    gov = api.acc["governance"].address
    assert api.error("POST", f"/v1/members/{gov}/freeze", "regulator", {"reason_hash": HASH},
                     409) == "chain_cannot_freeze_governance"
    assert not api.ledger.is_frozen(gov)


# -- a frozen account acts in no role -----------------------------------------------------------


def test_a_frozen_bank_cannot_book_a_deposit(api: Api) -> None:
    api.ledger.freeze_account(api.acc["regulator"], api.acc["bank"].address, doc("order"))
    trader = api.acc["trader1"].address
    assert api.error("POST", "/v1/exchange/cash/deposits", "bank",
                     {"account": trader, "amount_fen": 100_00, "reference": "wire 1"}, 409) == (
        "account_frozen")
    assert api.ledger.c("CashToken").functions.balanceOf(trader).call() == 0


def test_a_frozen_operator_cannot_issue(api: Api, prepared: Prepared) -> None:
    report = prepared.scenario.fork().report(prepared.batch.project_id, TONNE)
    api.ledger.freeze_account(api.acc["regulator"], api.acc["operator"].address, doc("order"))
    assert api.error("POST", "/v1/batches", "operator", {"report_id": report}, 409) == (
        "account_frozen")


def test_a_frozen_oracle_cannot_attest_through_the_relay(api: Api, prepared: Prepared) -> None:
    oracle = api.acc["oracle1"]
    api.ledger.freeze_account(api.acc["regulator"], oracle.address, doc("order"))
    batch = prepared.batch
    start, end = prepared.scenario.fork().period(batch.project_id)
    fn = api.ledger.c("MonitoringReports").functions.attest(
        batch.project_id, start, end, doc("root"), TONNE, doc("report"))
    r = api.http.post("/v1/relay", json=relay_body(api, oracle, "MonitoringReports",
                                                   calldata(fn)),
                      headers=api.headers("oracle1"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "account_frozen"
    assert api.ledger.report_of(batch.project_id, start, end) == 0
