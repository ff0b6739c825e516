"""Issuance, transfer and retirement on the real chain."""

from __future__ import annotations

import pytest

from chain.client import ChainRevert
from devkit.scenario import BASE_TIME, Batch, Scenario, doc
from registry.ledger import Purpose


def issued_batch(ledger, acc, quantity: int = 1_000_000_000, buffer_bps: int = 1000) -> Batch:
    return Scenario(ledger, acc).batch(quantity=quantity, buffer_bps=buffer_bps)


def test_issuance_mints_verified_quantity_less_rounded_up_buffer(ledger, acc):
    b = issued_batch(ledger, acc, quantity=326_400_001, buffer_bps=1000)
    assert b.buffer == 32_640_001  # ceil(326_400_001 * 10%)
    assert ledger.balance(acc["developer"].address, b.batch_id) == 326_400_001 - 32_640_001
    assert ledger.buffer_balance(b.batch_id) == 32_640_001


def test_second_issuance_of_same_report_reverts(ledger, acc):
    b = issued_batch(ledger, acc)
    with pytest.raises(ChainRevert) as e:
        ledger.issue(acc["operator"], b.report_id)
    assert e.value.name == "ReportAlreadyIssued"


def test_issuance_against_unverified_report_reverts(ledger, acc):
    b = issued_batch(ledger, acc)
    r = ledger.attest(acc["oracle1"], b.project_id, BASE_TIME + 10**8, BASE_TIME + 10**8 + 10,
                      doc("r"), 5, doc("x"))
    with pytest.raises(ChainRevert) as e:
        ledger.issue(acc["operator"], r.id)
    assert e.value.name == "ReportNotVerified"


def test_transfer_to_non_member_reverts(ledger, acc):
    b = issued_batch(ledger, acc)
    with pytest.raises(ChainRevert) as e:
        ledger.transfer(acc["developer"], acc["outsider"].address, b.batch_id, 1)
    assert e.value.name == "NotMember"


def test_retirement_consumes_next_serial_range(ledger, acc):
    b = issued_batch(ledger, acc)
    first = ledger.retire(acc["developer"], b.batch_id, 326_400_000, "Fuqing Procuratorate",
                          Purpose.ECOLOGICAL_COMPENSATION, "(2025)闽0181刑初1号")
    second = ledger.retire(acc["developer"], b.batch_id, 1_000_000, "Tanhui")
    assert (first.serial_start, first.serial_end) == (1, 326_400_000)
    assert (second.serial_start, second.serial_end) == (326_400_001, 327_400_000)
    assert second.retirement_id == first.retirement_id + 1


def test_retired_credits_cannot_be_transferred(ledger, acc):
    b = issued_batch(ledger, acc)
    held = ledger.balance(acc["developer"].address, b.batch_id)
    ledger.retire(acc["developer"], b.batch_id, held, "all of it")
    with pytest.raises(ChainRevert) as e:
        ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 1)
    assert e.value.name == "ERC1155InsufficientBalance"


def test_frozen_account_cannot_transfer(ledger, acc):
    b = issued_batch(ledger, acc)
    ledger.freeze_account(acc["regulator"], acc["developer"].address)
    with pytest.raises(ChainRevert) as e:
        ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 1)
    assert e.value.name == "AccountFrozen"


def test_frozen_batch_cannot_transfer_or_retire(ledger, acc):
    b = issued_batch(ledger, acc)
    ledger.freeze_batch(acc["regulator"], b.batch_id)
    with pytest.raises(ChainRevert) as e:
        ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 1)
    assert e.value.name == "BatchFrozen"
    with pytest.raises(ChainRevert) as e:
        ledger.retire(acc["developer"], b.batch_id, 1, "x")
    assert e.value.name == "BatchFrozen"
    ledger.unfreeze_batch(acc["regulator"], b.batch_id)
    ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 1)


def test_buffer_cancellation_consumes_serials_and_keeps_invariant(ledger, acc):
    b = issued_batch(ledger, acc, quantity=1_000_000_000)
    ledger.retire(acc["developer"], b.batch_id, 10, "x")
    typhoon = Scenario(ledger, acc).disturbance(b.project_id, 200_000_000)
    ledger.cancel_buffer_for_disturbance(acc["regulator"], typhoon, b.batch_id, 40_000_000)
    batch = ledger.batch(b.batch_id)
    held = ledger.balance(acc["developer"].address, b.batch_id) + ledger.buffer_balance(b.batch_id)
    assert batch.issued == held + batch.retired + batch.cancelled
    with pytest.raises(ChainRevert) as e:
        ledger.cancel_buffer_for_disturbance(acc["regulator"], typhoon, b.batch_id, 60_000_001)
    assert e.value.name == "InsufficientBuffer"


def test_ecological_compensation_requires_case_reference(ledger, acc):
    b = issued_batch(ledger, acc)
    with pytest.raises(ChainRevert) as e:
        ledger.retire(acc["developer"], b.batch_id, 1, "x", Purpose.ECOLOGICAL_COMPENSATION, "")
    assert e.value.name == "CaseReferenceRequired"


def test_overlapping_period_cannot_be_verified_twice(ledger, acc):
    b = issued_batch(ledger, acc)
    report = ledger.report(b.report_id)
    r = ledger.attest(acc["oracle1"], b.project_id, report.period_start + 1, report.period_end,
                      b"\x09" * 32, 5, b"\x09" * 32)
    ledger.attest(acc["oracle3"], b.project_id, report.period_start + 1, report.period_end,
                  b"\x09" * 32, 5, b"\x09" * 32)
    with pytest.raises(ChainRevert) as e:
        ledger.verify_report(acc["verifier"], r.id, 5, b"\x01" * 32)
    assert e.value.name == "PeriodOverlapsVerified"
