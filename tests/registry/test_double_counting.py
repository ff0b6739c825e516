"""Every tonne counted once, where the chain can see it: a parcel (boundary) belongs to one
active project, a Merkle root or a report hash is attested for one report only, and a
retirement is kept as one hash of its full record that any copy of the record is checked
against."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from chain.structs import Location
from devkit.scenario import BASE_TIME, MAOWEI, Batch, Scenario, doc
from registry.ledger import Ledger, Purpose

TONNE = 1_000_000
CREDITING_END = BASE_TIME + 40 * 365 * 86_400


@dataclass(frozen=True)
class World:
    """Two approved projects of one methodology; the first has an issued batch."""

    methodology: int
    first: int
    second: int
    batch: Batch
    scenario: Scenario


@pytest.fixture(scope="module")
def world(chain: Chain, deployment: Deployment,
          acc: dict[str, LocalAccount]) -> Iterator[World]:
    snap = chain.rpc("evm_snapshot")
    try:
        s = Scenario(Ledger(chain, deployment), acc)
        m = s.methodology()
        first, second = s.project(m), s.project(m, developer="trader3")
        yield World(m, first, second, s.batch(quantity=1_000 * TONNE, project_id=first), s)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def register(ledger: Ledger, acc: dict[str, LocalAccount], methodology: int,
             location: Location = MAOWEI, developer: str = "developer") -> int:
    return ledger.register_project(acc[developer], "茅尾海红树林 Maowei Sea mangrove", methodology,
                                   location, BASE_TIME, CREDITING_END, doc("pdd")).id


# -- parcels ------------------------------------------------------------------------------------


def test_a_second_project_on_the_same_parcel_is_refused(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    first = register(ledger, acc, world.methodology)
    with pytest.raises(ChainRevert) as denied:
        register(ledger, acc, world.methodology, developer="trader3")
    assert (denied.value.name, denied.value.error and denied.value.error.args) == (
        "BoundaryAlreadyRegistered",
        {"boundaryHash": "0x" + MAOWEI.boundary_hash.hex(), "projectId": first})


def test_a_rejected_project_releases_its_parcel(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    first = register(ledger, acc, world.methodology)
    ledger.reject_project(acc["regulator"], first, doc("wrong boundary survey"))
    again = register(ledger, acc, world.methodology)
    assert ledger.chain.call(
        ledger.c("ProjectRegistry").functions.projectOfBoundary(MAOWEI.boundary_hash)) == again


def test_another_parcel_with_the_same_area_and_place_is_a_project_of_its_own(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    register(ledger, acc, world.methodology)
    register(ledger, acc, world.methodology, replace(MAOWEI, boundary_hash=doc("north parcel")))


# -- Merkle roots and report hashes -------------------------------------------------------------


def attest_both(ledger: Ledger, acc: dict[str, LocalAccount], project: int,
                period: tuple[int, int], root: bytes, report_hash: bytes) -> int:
    rid = ledger.attest(acc["oracle1"], project, *period, root, 5 * TONNE, report_hash).id
    ledger.attest(acc["oracle2"], project, *period, root, 5 * TONNE, report_hash)
    return rid


def test_a_root_attested_for_one_report_is_refused_for_another_project(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    first = attest_both(ledger, acc, world.first, s.period(world.first), doc("root"), doc("a"))
    with pytest.raises(ChainRevert) as denied:
        ledger.attest(acc["oracle1"], world.second, *s.period(world.second), doc("root"),
                      5 * TONNE, doc("b"))
    assert (denied.value.name, denied.value.error and denied.value.error.args) == (
        "AlreadyAttestedElsewhere", {"rootOrHash": "0x" + doc("root").hex(), "reportId": first})


def test_a_report_hash_attested_for_one_report_is_refused_for_another_period(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    attest_both(ledger, acc, world.first, s.period(world.first), doc("root-1"), doc("report"))
    with pytest.raises(ChainRevert) as denied:
        ledger.attest(acc["oracle1"], world.first, *s.period(world.first), doc("root-2"),
                      5 * TONNE, doc("report"))
    assert denied.value.name == "AlreadyAttestedElsewhere"


def test_the_deciding_vote_for_a_root_claimed_meanwhile_is_refused(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    second_period = s.period(world.second)
    ledger.attest(acc["oracle3"], world.second, *second_period, doc("root"), 5 * TONNE, doc("b"))
    attest_both(ledger, acc, world.first, s.period(world.first), doc("root"), doc("a"))
    with pytest.raises(ChainRevert) as denied:
        ledger.attest(acc["oracle1"], world.second, *second_period, doc("root"), 5 * TONNE,
                      doc("b"))
    assert denied.value.name == "AlreadyAttestedElsewhere"


def test_a_rejected_report_releases_its_root_and_hash(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    first = attest_both(ledger, acc, world.first, s.period(world.first), doc("root"), doc("a"))
    ledger.reject_report(acc["verifier"], first, doc("miscalculated"))
    attest_both(ledger, acc, world.second, s.period(world.second), doc("root"), doc("a"))


def test_late_agreeing_votes_on_the_same_report_are_still_counted(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    s = world.scenario.fork()
    period = s.period(world.first)
    rid = attest_both(ledger, acc, world.first, period, doc("root"), doc("a"))
    ledger.attest(acc["oracle3"], world.first, *period, doc("root"), 5 * TONNE, doc("a"))
    assert ledger.report(rid).submissions == 3


# -- retirements: one slot, the full record provable --------------------------------------------


def retire(ledger: Ledger, acc: dict[str, LocalAccount], world: World) -> int:
    return ledger.retire(acc["developer"], world.batch.batch_id, 326_400_000,
                         "福清市人民检察院 Fuqing Procuratorate", Purpose.ECOLOGICAL_COMPENSATION,
                         "(2025)闽0181民初123号").retirement_id


def test_a_retirement_record_read_from_its_event_matches_the_chain(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    rid = retire(ledger, acc, world)
    read = ledger.retirement(rid)
    assert read.matches is True
    record = read.retirement
    assert ledger.verify_retirement(rid, record) is True
    assert (record.holder, record.amount, record.serial_start, record.beneficiary,
            record.case_reference) == (acc["developer"].address, 326_400_000, 1,
                                         "福清市人民检察院 Fuqing Procuratorate",
                                         "(2025)闽0181民初123号")


@pytest.mark.parametrize(("field", "value"), [
    ("holder", "0x" + "11" * 20), ("batch_id", 999), ("amount", 1), ("serial_start", 2),
    ("purpose", int(Purpose.VOLUNTARY)), ("beneficiary", "某公司 Some company"),
    ("case_reference", "(2025)闽0181民初124号"),
])
def test_a_retirement_record_with_any_field_changed_is_refused(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World, field: str, value: object
) -> None:
    rid = retire(ledger, acc, world)
    if field == "holder":
        value = ledger.chain.w3.to_checksum_address(str(value))
    forged = replace(ledger.retirement(rid).retirement, **{field: value})
    assert ledger.verify_retirement(rid, forged) is False


def test_a_retirement_costs_at_most_80_000_gas(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    retire(ledger, acc, world)  # the contract's and the holder's first retirement
    second = ledger.retire(acc["developer"], world.batch.batch_id, 483_880_000,
                           "厦门市某公司 Xiamen Co.", Purpose.VOLUNTARY)
    assert second.sent.gas_used <= 80_000


def test_a_retirement_citing_a_case_costs_at_most_the_order_book_lookup_more(
    ledger: Ledger, acc: dict[str, LocalAccount], world: World
) -> None:
    # a case reference is looked up in CompensationOrders (one external view call and one cold
    # storage read), so that a case with an order is only retired for through the order
    retire(ledger, acc, world)
    second = ledger.retire(acc["developer"], world.batch.batch_id, 483_880_000,
                           "福清市人民检察院 Fuqing Procuratorate", Purpose.ECOLOGICAL_COMPENSATION,
                           "(2025)闽0181民初123号")
    assert second.sent.gas_used <= 80_000 + 6_000
