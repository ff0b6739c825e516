"""Property: whatever the chain does — registry activity, a return to any earlier state, other
activity at the same heights, again — the index that follows it equals a fresh index."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from devkit.scenario import Batch, Scenario, doc
from registry.indexer import Indexer
from registry.ledger import Ledger
from tests.support.indexing import (
    TONNE,
    assert_index_matches_chain,
    migrated,
    revert_to,
    snapshot,
    sqlite_url,
)

HOLDERS = ("developer", "trader1", "trader2", "trader3")
TRADERS = HOLDERS[1:]


@dataclass
class Base:
    ledger: Ledger
    acc: dict[str, LocalAccount]
    batch: Batch


@pytest.fixture(scope="module")
def base(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Base]:
    """A batch held by the developer and the traders, for the whole module."""
    start = snapshot(chain)
    ledger = Ledger(chain, deployment)
    batch = Scenario(ledger, acc).batch(quantity=1_000 * TONNE)
    for trader in TRADERS:
        ledger.transfer(acc["developer"], acc[trader].address, batch.batch_id, 100 * TONNE)
    yield Base(ledger, acc, batch)
    revert_to(chain, start)


holder = st.sampled_from(HOLDERS)
trader = st.sampled_from(TRADERS)
percent = st.integers(min_value=1, max_value=100)
actions = st.one_of(
    st.tuples(st.just("transfer"), holder, holder, percent),
    st.tuples(st.just("retire"), holder, percent),
    st.tuples(st.just("freeze_account"), trader),
    st.tuples(st.just("grant_bank_role"), trader),
    st.tuples(st.just("freeze_batch")),
    st.tuples(st.just("issue_batch"), trader),
    st.tuples(st.just("mine_empty_blocks"), st.integers(min_value=1, max_value=3)),
)
# Each round: actions, then an index sync (in ranges of this many blocks), then the chain
# goes back to the state after one of the actions so far (picked modulo their number).
rounds = st.lists(
    st.tuples(st.lists(actions, min_size=1, max_size=4), st.integers(0, 1_000),
              st.sampled_from([1, 3, 2_000])),
    min_size=1, max_size=2,
)


def act(b: Base, s: Scenario, action: tuple[Any, ...]) -> None:
    """Does `action` on chain; an action the contracts refuse (a frozen account, an empty
    balance) changes nothing, which is fine for the property."""
    ledger, acc, bid = b.ledger, b.acc, b.batch.batch_id
    kind = action[0]
    try:
        if kind == "transfer":
            _, src, dst, pct = action
            amount = ledger.balance(acc[src].address, bid) * pct // 100
            if amount and src != dst:
                ledger.transfer(acc[src], acc[dst].address, bid, amount)
        elif kind == "retire":
            _, who, pct = action
            amount = ledger.balance(acc[who].address, bid) * pct // 100
            if amount:
                ledger.retire(acc[who], bid, amount, f"beneficiary {pct}")
        elif kind == "freeze_account":
            address = acc[action[1]].address
            frozen = ledger.chain.call(ledger.c("Consortium").functions.isFrozen(address))
            toggle = ledger.unfreeze_account if frozen else ledger.freeze_account
            toggle(acc["regulator"], address, doc("freeze"))
        elif kind == "grant_bank_role":
            address = acc[action[1]].address
            toggle = ledger.revoke_role if ledger.has_role("BANK", address) else ledger.grant_role
            toggle(acc["governance"], "BANK", address)
        elif kind == "freeze_batch":
            frozen = ledger.batch(bid).frozen
            toggle = ledger.unfreeze_batch if frozen else ledger.freeze_batch
            toggle(acc["regulator"], bid, doc("batch-freeze"))
        elif kind == "issue_batch":
            new = s.batch(quantity=20 * TONNE, project_id=b.batch.project_id)
            ledger.transfer(acc["developer"], acc[action[1]].address, new.batch_id, 3 * TONNE)
        elif kind == "mine_empty_blocks":
            for _ in range(action[1]):
                ledger.chain.rpc("evm_mine")
    except ChainRevert:
        pass


@given(rounds=rounds, tail=st.lists(actions, max_size=3))
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_an_index_that_follows_a_chain_through_reverts_equals_a_fresh_index(
    base: Base, rounds: list[tuple[list[tuple[Any, ...]], int, int]],
    tail: list[tuple[Any, ...]],
) -> None:
    chain, deployment = base.ledger.chain, base.ledger.deployment
    start = snapshot(chain)
    s = Scenario(base.ledger, base.acc)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = migrated(sqlite_url(Path(tmp)))
            try:
                states = [snapshot(chain)]
                for steps, pick, batch_blocks in rounds:
                    for step in steps:
                        act(base, s, step)
                        states.append(snapshot(chain))
                    Indexer(chain, deployment, engine, batch_blocks=batch_blocks).sync()
                    back = pick % len(states)
                    revert_to(chain, states[back])
                    # a revert uses up its snapshot and the later ones
                    states = [*states[:back], snapshot(chain)]
                for step in tail:
                    act(base, s, step)
                Indexer(chain, deployment, engine).sync()
                assert_index_matches_chain(engine, chain, deployment)
            finally:
                engine.dispose()
    finally:
        revert_to(chain, start)
