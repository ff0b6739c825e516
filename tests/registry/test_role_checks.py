"""Each role keeps the others in check, on the real contracts: the registry operator cannot
remove a role holder, a removal revokes every role, governance is one admin handed over in two
delayed steps and never renounced or frozen, a frozen account acts in no role in any contract,
and the oracle threshold k always stays reachable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from chain.client import Chain, ChainRevert
from chain.deploy import DEFAULT_GOVERNANCE_DELAY, Deployment
from chain.metatx import forward_request
from chain.roles import role_id
from core.db import session_factory
from devkit.roster import dev_account
from devkit.scenario import Batch, Scenario, doc
from exchange.onchain import SettlementChain
from registry.ledger import Ledger
from registry.models import Member as MemberRow
from tests.support.indexing import index_into, sqlite_url

TONNE = 1_000_000


@dataclass(frozen=True)
class World:
    """A batch the developer holds, an approved project, and a fresh monitoring period."""

    batch: Batch
    period: tuple[int, int]
    scenario: Scenario


@pytest.fixture(scope="module")
def world(chain: Chain, deployment: Deployment,
          acc: dict[str, LocalAccount]) -> Iterator[World]:
    snap = chain.rpc("evm_snapshot")
    try:
        s = Scenario(Ledger(chain, deployment), acc)
        batch = s.batch(quantity=100 * TONNE)
        yield World(batch, s.period(batch.project_id), s)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def refused(call: Any, *args: Any) -> tuple[str, dict[str, Any]]:
    """The custom error (name and arguments) a call is refused with."""
    with pytest.raises(ChainRevert) as denied:
        call(*args)
    return denied.value.name, denied.value.error.args if denied.value.error else {}


def consortium(ledger: Ledger) -> Contract:
    return ledger.c("Consortium")


# -- 11: only governance removes a role holder -------------------------------------------------


@pytest.mark.parametrize("seat", ["regulator", "exchange", "bank", "verifier", "oracle1"])
def test_the_registry_operator_cannot_remove_a_role_holder(
    ledger: Ledger, acc: dict[str, LocalAccount], seat: str
) -> None:
    target = acc[seat].address
    assert refused(ledger.remove_member, acc["operator"], target) == (
        "GovernanceRequired", {"account": target})
    assert ledger.is_member(target)


def test_the_registry_operator_cannot_remove_another_operator(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    other = acc["trader3"].address
    ledger.grant_role(acc["governance"], "REGISTRY_OPERATOR", other)
    assert refused(ledger.remove_member, acc["operator"], other) == (
        "GovernanceRequired", {"account": other})


def test_the_registry_operator_cannot_remove_the_settlement_contract(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    settlement = ledger.deployment.address("Settlement")
    name, args = refused(ledger.remove_member, acc["operator"], settlement)
    assert (name, args["account"].lower()) == ("GovernanceRequired", settlement.lower())
    assert ledger.is_member(settlement)


def test_the_registry_operator_removes_a_plain_member(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.remove_member(acc["operator"], acc["trader3"].address)
    assert not ledger.is_member(acc["trader3"].address)


def test_governance_removes_a_role_holder(ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    ledger.remove_member(acc["governance"], acc["bank"].address)
    assert not ledger.is_member(acc["bank"].address)


# -- 12: removal revokes every role, re-admission restores none --------------------------------


def test_removal_revokes_every_role_with_an_event(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    member = acc["trader3"].address
    ledger.grant_role(acc["governance"], "VERIFIER", member)
    ledger.grant_role(acc["governance"], "FORESTRY", member)
    sent = ledger.remove_member(acc["governance"], member)
    revoked = {(e.args["role"], e.args["account"])
               for e in ledger.events_of(sent, "RoleRevoked")}
    assert revoked == {("0x" + role_id("VERIFIER").hex(), member),
                       ("0x" + role_id("FORESTRY").hex(), member)}
    assert not ledger.holds_role("VERIFIER", member)
    assert not ledger.holds_role("FORESTRY", member)


def test_the_index_shows_a_removed_member_without_its_roles(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    bank = acc["bank"].address
    ledger.remove_member(acc["governance"], bank)
    ledger.admit(acc["operator"], bank, "再入盟 Re-admitted")
    engine = index_into(sqlite_url(tmp_path), ledger)
    try:
        with session_factory(engine)() as s:
            row = s.get(MemberRow, bank)
            assert row is not None and (row.active, row.roles) == (True, [])
    finally:
        engine.dispose()


def test_a_readmitted_regulator_comes_back_without_its_role(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    regulator = acc["regulator"]
    ledger.remove_member(acc["governance"], regulator.address)
    ledger.admit(acc["operator"], regulator.address, "再入盟 Re-admitted")
    assert ledger.is_member(regulator.address)
    assert not ledger.holds_role("REGULATOR", regulator.address)
    assert refused(ledger.freeze_batch, regulator, world.batch.batch_id)[0] == "NotAuthorized"


def test_a_readmitted_oracle_cannot_attest(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    oracle = acc["oracle3"]
    ledger.remove_member(acc["governance"], oracle.address)
    ledger.admit(acc["operator"], oracle.address, "再入盟 Re-admitted")
    start, end = world.period
    assert refused(ledger.attest, oracle, world.batch.project_id, start, end, doc("r"),
                   TONNE, doc("h")) == (
        "NotAuthorized", {"account": oracle.address, "role": "0x" + role_id("ORACLE").hex()})


# -- 13: buffer credits are cancelled only against a confirmed disturbance ---------------------


def test_the_regulator_cannot_cancel_buffer_credits_with_a_bare_reason_hash(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    """The old `cancelBuffer(batch, amount, reasonHash)` is gone: no call can burn buffer
    credits without a verifier-confirmed disturbance bounding it."""
    credits = ledger.c("CarbonCredits")
    data = keccak(text="cancelBuffer(uint256,uint256,bytes32)")[:4] + (
        world.batch.batch_id.to_bytes(32, "big") + TONNE.to_bytes(32, "big") + doc("typhoon"))
    with pytest.raises(Exception):  # noqa: B017 - no such function: a bare revert
        ledger.chain.w3.eth.call({"from": acc["regulator"].address, "to": credits.address,
                                  "data": "0x" + data.hex()})
    assert ledger.buffer_balance(world.batch.batch_id) == world.batch.buffer


def test_buffer_credits_are_cancelled_against_a_confirmed_disturbance(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    typhoon = s.disturbance(world.batch.project_id, 2 * TONNE)
    ledger.cancel_buffer_for_disturbance(acc["regulator"], typhoon, world.batch.batch_id, TONNE)
    assert ledger.buffer_balance(world.batch.batch_id) == world.batch.buffer - TONNE


# -- 14: one admin, handed over in two delayed steps --------------------------------------------


def test_governance_cannot_renounce(ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    gov = acc["governance"]
    fn = consortium(ledger).functions.renounceRole(role_id("GOVERNANCE"), gov.address)
    assert refused(ledger.chain.send, fn, gov)[0] == "AccessControlEnforcedDefaultAdminDelay"
    assert ledger.governance() == gov.address


def test_governance_cannot_appoint_a_co_admin(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    assert refused(ledger.grant_role, acc["governance"], "GOVERNANCE",
                   acc["trader1"].address)[0] == "AccessControlEnforcedDefaultAdminRules"


def test_governance_is_never_handed_to_the_zero_address(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    zero = "0x" + "00" * 20
    assert refused(ledger.begin_governance_transfer, acc["governance"], zero) == (
        "NotMember", {"account": zero})


def test_governance_is_handed_over_only_after_the_delay(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    old, new = acc["governance"], acc["trader1"]
    ledger.begin_governance_transfer(old, new.address)
    assert refused(ledger.accept_governance_transfer, new)[0] == (
        "AccessControlEnforcedDefaultAdminDelay")
    ledger.chain.rpc("evm_increaseTime", DEFAULT_GOVERNANCE_DELAY + 1)
    ledger.chain.rpc("evm_mine")
    ledger.accept_governance_transfer(new)
    assert ledger.governance() == new.address
    assert not ledger.holds_role("GOVERNANCE", old.address)
    ledger.grant_role(new, "FORESTRY", acc["trader2"].address)
    assert refused(ledger.grant_role, old, "FORESTRY", acc["trader3"].address)[0] == (
        "AccessControlUnauthorizedAccount")


def test_only_the_designated_successor_accepts_governance(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.begin_governance_transfer(acc["governance"], acc["trader1"].address)
    ledger.chain.rpc("evm_increaseTime", DEFAULT_GOVERNANCE_DELAY + 1)
    ledger.chain.rpc("evm_mine")
    assert refused(ledger.accept_governance_transfer, acc["regulator"]) == (
        "AccessControlInvalidDefaultAdmin", {"defaultAdmin": acc["regulator"].address})


# -- 15: a frozen account acts in no role ------------------------------------------------------


def frozen(ledger: Ledger, acc: dict[str, LocalAccount], seat: str) -> LocalAccount:
    ledger.freeze_account(acc["regulator"], acc[seat].address, doc("freeze order"))
    return acc[seat]


def test_a_frozen_bank_cannot_mint_cash(ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    bank = frozen(ledger, acc, "bank")
    assert refused(SettlementChain(ledger).deposit, bank, acc["trader1"].address, 100,
                   doc("wire")) == ("AccountFrozen", {"account": bank.address})


def test_a_frozen_oracle_cannot_attest_a_report(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    oracle = frozen(ledger, acc, "oracle1")
    start, end = world.period
    assert refused(ledger.attest, oracle, world.batch.project_id, start, end, doc("root"),
                   TONNE, doc("report")) == ("AccountFrozen", {"account": oracle.address})


def test_a_frozen_oracle_cannot_attest_a_disturbance(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    oracle = frozen(ledger, acc, "oracle2")
    assert refused(ledger.attest_disturbance, oracle, world.batch.project_id, 2,
                   world.scenario.fork().event_time(), TONNE, doc("evidence")) == (
        "AccountFrozen", {"account": oracle.address})


def test_a_frozen_verifier_cannot_verify(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    report = world.scenario.fork().report(world.batch.project_id, TONNE, stage="attested")
    verifier = frozen(ledger, acc, "verifier")
    assert refused(ledger.verify_report, verifier, report, TONNE, doc("statement")) == (
        "AccountFrozen", {"account": verifier.address})


def test_a_frozen_exchange_cannot_change_settlement(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    exchange = frozen(ledger, acc, "exchange")
    assert refused(SettlementChain(ledger).set_fees, exchange, exchange.address, 10, 20) == (
        "AccountFrozen", {"account": exchange.address})


def test_a_frozen_operator_cannot_move_others_credits(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    holder, operator = acc["developer"], acc["trader1"]
    credits = ledger.c("CarbonCredits")
    ledger.chain.send(credits.functions.setApprovalForAll(operator.address, True), holder)
    frozen(ledger, acc, "trader1")
    move = credits.functions.safeTransferFrom(holder.address, acc["trader2"].address,
                                              world.batch.batch_id, TONNE, b"")
    assert refused(ledger.chain.send, move, operator) == (
        "AccountFrozen", {"account": operator.address})


def test_a_frozen_account_cannot_approve_a_cash_spender(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    owner = frozen(ledger, acc, "trader1")
    cash = ledger.c("CashToken")
    fn = cash.functions.approve(acc["trader2"].address, 100)
    assert refused(ledger.chain.send, fn, owner) == ("AccountFrozen", {"account": owner.address})


def test_a_frozen_registry_operator_cannot_admit(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    operator = frozen(ledger, acc, "operator")
    assert refused(ledger.admit, operator, dev_account(40).address, "新成员 Newcomer") == (
        "AccountFrozen", {"account": operator.address})


def test_a_frozen_regulator_cannot_freeze(ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    second = acc["trader3"]
    ledger.grant_role(acc["governance"], "REGULATOR", second.address)
    ledger.freeze_account(second, acc["regulator"].address, doc("order"))
    assert refused(ledger.freeze_account, acc["regulator"], acc["trader1"].address,
                   doc("order")) == ("AccountFrozen", {"account": acc["regulator"].address})


def test_a_frozen_oracle_cannot_attest_through_the_forwarder(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    oracle = frozen(ledger, acc, "oracle1")
    start, end = world.period
    fn = ledger.c("MonitoringReports").functions.attest(
        world.batch.project_id, start, end, doc("root"), TONNE, doc("report"))
    forwarder = ledger.c("TanhuiForwarder")
    request = forward_request(ledger.chain, forwarder, oracle, fn)
    before = ledger.report_of(world.batch.project_id, start, end)
    with pytest.raises(ChainRevert):
        ledger.chain.send(forwarder.functions.execute(request), acc["trader2"])
    assert ledger.report_of(world.batch.project_id, start, end) == before == 0


def test_governance_cannot_be_frozen(ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    gov = acc["governance"].address
    assert refused(ledger.freeze_account, acc["regulator"], gov, doc("order")) == (
        "CannotFreezeGovernance", {"account": gov})


def test_the_governance_successor_cannot_be_frozen(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    successor = acc["trader1"].address
    ledger.begin_governance_transfer(acc["governance"], successor)
    assert refused(ledger.freeze_account, acc["regulator"], successor, doc("order")) == (
        "CannotFreezeGovernance", {"account": successor})


def test_a_frozen_member_is_not_authorized_in_any_role(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    bank = frozen(ledger, acc, "bank")
    assert ledger.holds_role("BANK", bank.address)
    assert not ledger.has_role("BANK", bank.address)
    assert not ledger.has_role("MEMBER", bank.address)


# -- 16: the oracle threshold k stays reachable ------------------------------------------------


def test_the_threshold_cannot_exceed_the_oracles(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    assert ledger.role_holder_count("ORACLE") == 3
    assert refused(ledger.set_threshold, acc["governance"], 4) == (
        "ThresholdAboveOracles", {"threshold": 4, "oracles": 3})
    ledger.set_threshold(acc["governance"], 3)


def test_an_oracle_is_not_revoked_below_the_threshold(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.set_threshold(acc["governance"], 3)
    assert refused(ledger.revoke_role, acc["governance"], "ORACLE", acc["oracle3"].address) == (
        "OracleQuorumUnreachable", {"oraclesLeft": 2, "threshold": 3})


def test_an_oracle_does_not_renounce_below_the_threshold(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.set_threshold(acc["governance"], 3)
    oracle = acc["oracle2"]
    fn = consortium(ledger).functions.renounceRole(role_id("ORACLE"), oracle.address)
    assert refused(ledger.chain.send, fn, oracle)[0] == "OracleQuorumUnreachable"


def test_an_oracle_is_not_removed_below_the_threshold(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.set_threshold(acc["governance"], 3)
    assert refused(ledger.remove_member, acc["governance"], acc["oracle1"].address)[0] == (
        "OracleQuorumUnreachable")
    assert ledger.is_member(acc["oracle1"].address)


def test_an_oracle_above_the_threshold_is_revoked(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    ledger.revoke_role(acc["governance"], "ORACLE", acc["oracle3"].address)
    assert ledger.role_holder_count("ORACLE") == 2


# -- role ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["REGULATOR", "REGISTRY_OPERATOR", "VERIFIER", "ORACLE",
                                  "EXCHANGE", "BANK", "AUTHORITY", "FORESTRY",
                                  "RETAIL"])
def test_role_ids_are_readable_from_the_consortium(ledger: Ledger, name: str) -> None:
    getter = getattr(consortium(ledger).functions, f"{name}_ROLE")
    assert bytes(ledger.chain.call(getter())) == role_id(name)
