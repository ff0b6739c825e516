"""Sending on the real chain: a revert is explained by what the transaction met at its own place
in its block, and a chain that went backwards is noticed before a nonce is reused wrongly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import Chain, ChainRevert
from devkit.roster import dev_account
from registry.ledger import Ledger
from tests.support.chain_faults import payment


@pytest.fixture
def manual_mining(ledger: Ledger) -> Iterator[Ledger]:
    """Blocks are mined only on `evm_mine`, so several transactions share one."""
    ledger.chain.rpc("evm_setAutomine", False)
    try:
        yield ledger
    finally:
        ledger.chain.rpc("evm_setAutomine", True)


def test_a_revert_is_decoded_at_its_own_place_in_its_block(
        manual_mining: Ledger, acc: dict[str, LocalAccount]) -> None:
    ledger = manual_mining
    newcomer = dev_account(30).address
    admit = ledger.c("Consortium").functions.admit(newcomer, "newcomer", bytes(32))
    first = ledger.chain.send_nowait(admit, acc["governance"])
    second = ledger.chain.send_nowait(admit, acc["governance"])  # simulated before the first
    ledger.chain.rpc("evm_mine")
    assert ledger.chain.wait(first).block_number == ledger.chain.receipt(second)["blockNumber"]
    with pytest.raises(ChainRevert) as refused:
        ledger.chain.wait(second)
    # at the parent block the admission had not happened and the call would succeed
    assert refused.value.name == "AlreadyMember"
    assert refused.value.error is not None and refused.value.error.args == {"account": newcomer}


def test_a_chain_gone_backwards_is_noticed_and_its_nonces_resync(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    chain, sender = ledger.chain, acc["governance"]
    chain.check_head()  # earlier tests rolled the chain back too
    before = chain.rpc("evm_snapshot")
    fn = ledger.c("Consortium").functions.admit(dev_account(31).address, "gone", bytes(32))
    chain.wait(chain.send_nowait(fn, sender))  # this block will be lost
    assert not chain.check_head()
    chain.rpc("evm_revert", before)
    assert chain.check_head()  # the head went back: cached nonces forgotten
    again = ledger.c("Consortium").functions.admit(dev_account(32).address, "kept", bytes(32))
    sent = chain.wait(chain.send_nowait(again, sender), timeout=10)
    assert ledger.is_member(dev_account(32).address) and sent.block_number > 0


def test_two_processes_signing_with_one_key_both_get_their_transactions_in(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    """A relayer key shared by the API and a separate exchange process: each caches its next
    nonce, so one of them is refused 'nonce too low'; nothing was sent, and it signs again at
    the node's next nonce instead of failing the member's request."""
    here = ledger.chain
    there = Chain(here.url)  # the other process's client
    here.reset_nonces()
    sender = acc["governance"]
    to = Account.create().address  # a fresh address: its balance is only what is sent here
    # three different amounts: no two of the transactions can be the same bytes
    here.wait(here.send_raw(payment(here, to, 1 * 10**15), sender))  # caches its next nonce
    there.wait(there.send_raw(payment(there, to, 2 * 10**15), sender))  # takes that nonce
    late = here.wait(here.send_raw(payment(here, to, 4 * 10**15), sender))  # refused, re-signed
    assert late.block_number > 0
    assert here.w3.eth.get_balance(to) == 7 * 10**15
