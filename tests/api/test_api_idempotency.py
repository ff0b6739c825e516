"""`Idempotency-Key` on transfers and retirements: a retried request returns the first result and
never moves credits twice."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.auth import Caller
from api.idempotency import PENDING_LEASE_SECONDS, _request_hash, idempotent
from api.models import ApiAccount, IdempotentRequest
from api.routes.credits import TransferIn
from chain.client import Chain
from chain.outbox import Outbox
from core.db import make_engine, session_factory
from devkit.roster import dev_account, dev_accounts
from devkit.scenario import Batch, Scenario
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-idempotency")), acc)


@dataclass
class Ctx:
    api: Api
    batch: Batch

    def retire(self, key: str, amount: str = "1") -> Any:
        return self.api.raw("POST", "/v1/retirements", "developer", {
            "batch_id": self.batch.batch_id, "amount": amount, "beneficiary": "南宁绿色发展基金",
            "purpose": "voluntary"}, headers={"Idempotency-Key": key})

    @property
    def held(self) -> int:
        return self.api.ledger.balance(self.api.acc["developer"].address, self.batch.batch_id)


@pytest.fixture
def ctx(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Ctx]:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE)  # developer holds 9 t
    with open_api(db, ledger, acc).http as http:
        yield Ctx(Api(http, db, ledger, acc), batch)


def test_a_retried_retirement_retires_once(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    first = ctx.retire(key)
    assert first.status_code == 201, first.text
    held = ctx.held
    retries = [ctx.retire(key) for _ in range(2)]
    for again in retries:
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
    assert ctx.held == held
    count = ctx.api.ledger.chain.call(ctx.api.ledger.c("CarbonCredits").functions.retirementCount())
    assert count == 1


def test_a_key_cannot_be_reused_for_another_request(ctx: Ctx,
                                                    request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    assert ctx.retire(key, "1").status_code == 201
    other = ctx.retire(key, "2")
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert ctx.held == 8 * TONNE


def test_a_refused_attempt_releases_its_key(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    refused = ctx.retire(key, "9.5")
    assert refused.json()["error"]["code"] == "insufficient_balance"
    smaller = ctx.retire(key, "9")
    assert smaller.status_code == 201, smaller.text
    assert ctx.held == 0


def test_keys_belong_to_their_caller(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"shared-{request.node.name}"
    api = ctx.api
    mine = api.raw("POST", "/v1/transfers", "developer",
                   {"to": api.acc["trader1"].address, "batch_id": ctx.batch.batch_id,
                    "amount": "2"}, headers={"Idempotency-Key": key})
    assert mine.status_code == 201
    theirs = api.raw("POST", "/v1/transfers", "trader1",
                     {"to": api.acc["trader2"].address, "batch_id": ctx.batch.batch_id,
                      "amount": "1"}, headers={"Idempotency-Key": key})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert api.ledger.balance(api.acc["trader2"].address, ctx.batch.batch_id) == TONNE


def test_a_malformed_key_is_refused(ctx: Ctx) -> None:
    r = ctx.retire("x" * 256)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_idempotency_key")
    assert ctx.held == 9 * TONNE


# -- against a chain that loses blocks, and an API that dies mid-request ----------------------
#
# A lost block is an `evm_revert` to a snapshot taken before the write (the embedded anvil
# restarting from an older state dump); a dead API is a forked API process killed -9 while its
# transfer waits to be mined (automine off), after it recorded the transaction on the key.

def api_on(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
           outbox: Path | None = None) -> Api:
    """The API on its own Chain (its own nonces), signing through `outbox` if given."""
    chain = Chain(ledger.chain.url, outbox=Outbox(outbox) if outbox is not None else None)
    chain.errors = ledger.chain.errors
    app = create_app(db.settings, Ledger(chain, ledger.deployment), db.engine,
                     relayer=acc["governance"])
    return Api(TestClient(app), db, ledger, acc)


def transfer(api: Api, key: str, batch: int, amount: str = "2") -> Any:
    return api.raw("POST", "/v1/transfers", "developer",
                   {"to": api.acc["trader1"].address, "batch_id": batch, "amount": amount},
                   headers={"Idempotency-Key": key})


def held_by_trader1(api: Api, batch: int) -> int:
    return api.ledger.balance(api.acc["trader1"].address, batch)


def test_a_replayed_key_whose_transaction_the_chain_lost_is_not_answered_with_it(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    api, key = api_on(db, ledger, acc), f"lost-{request.node.name}"
    before = ledger.chain.rpc("evm_snapshot")
    first = transfer(api, key, batch)
    assert first.status_code == 201, first.text
    ledger.chain.rpc("evm_revert", before)  # the block of the acknowledged transfer is gone

    replay = transfer(api, key, batch)
    assert replay.status_code == 409, replay.text
    error = replay.json()["error"]
    assert error["code"] == "idempotent_write_lost"
    assert error["details"]["tx_hash"] == first.json()["tx_hash"]
    assert held_by_trader1(api, batch) == 0  # nothing moved, as the answer says
    again = transfer(api, key, batch)  # the key was released: the request runs afresh
    assert again.status_code == 201, again.text
    assert ledger.chain.receipt(again.json()["tx_hash"]) is not None  # this one is on chain
    assert transfer(api, key, batch).json() == again.json()
    assert held_by_trader1(api, batch) == 2 * TONNE


def test_a_replayed_key_whose_transaction_the_chain_lost_is_sent_again_and_answered_alike(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    api, key = api_on(db, ledger, acc, tmp_path / "outbox.db"), f"resent-{request.node.name}"
    before = ledger.chain.rpc("evm_snapshot")
    first = transfer(api, key, batch)
    assert first.status_code == 201, first.text
    ledger.chain.rpc("evm_revert", before)
    assert ledger.chain.receipt(first.json()["tx_hash"]) is None

    replay = transfer(api, key, batch)
    assert replay.status_code == 201, replay.text
    assert replay.json()["tx_hash"] == first.json()["tx_hash"]  # the same bytes, sent again
    receipt = ledger.chain.receipt(first.json()["tx_hash"])
    assert receipt is not None and receipt["status"] == 1
    assert replay.json()["block_number"] == receipt["blockNumber"]
    assert held_by_trader1(api, batch) == 2 * TONNE


def transfer_and_die_waiting(db: ApiDatabase, ledger: Ledger, key: str, batch: int,
                             to: str) -> None:
    """An API process of its own: its transfer is broadcast, then it waits to be mined."""
    chain = Chain(ledger.chain.url)
    chain.errors = ledger.chain.errors
    app = create_app(db.settings, Ledger(chain, ledger.deployment), make_engine(
        db.settings.db_url), relayer=dev_account(0))
    with TestClient(app) as http:
        http.post("/v1/transfers", json={"to": to, "batch_id": batch, "amount": "2"},
                  headers={"Authorization": f"Bearer {db.keys['developer']}",
                           "Idempotency-Key": key})
    os._exit(0)


def killed_while_waiting(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
                         key: str, batch: int, dropped: bool = False) -> str:
    """Runs the transfer in an API process killed -9 once its transaction is broadcast (and
    recorded on the key); returns that transaction's hash, mined afterwards unless the node
    `dropped` it from its pool first."""
    chain, tx_hash = ledger.chain, None
    chain.rpc("evm_setAutomine", False)
    proc = multiprocessing.get_context("fork").Process(
        target=transfer_and_die_waiting, args=(db, ledger, key, batch, acc["trader1"].address))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with session_factory(db.engine)() as s:
                tx_hash = s.scalar(select(IdempotentRequest.tx_hash).where(
                    IdempotentRequest.key == key))
            if tx_hash and chain.rpc("eth_getTransactionByHash", tx_hash) is not None:
                break
            assert time.monotonic() < deadline and proc.is_alive(), "no transaction sent"
            time.sleep(0.05)
    finally:
        if proc.pid is not None and proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        if dropped and tx_hash:
            chain.rpc("anvil_dropTransaction", tx_hash)
        chain.rpc("evm_setAutomine", True)
        if not dropped:  # automine takes what is pending in its own time: mine it now
            chain.rpc("evm_mine")
    return str(tx_hash)


def test_a_pending_key_whose_transaction_landed_is_answered_from_the_chain(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    key = f"unknown-{request.node.name}"
    relayer = acc["governance"].address
    sent_before = ledger.chain.w3.eth.get_transaction_count(relayer)
    tx_hash = killed_while_waiting(db, ledger, acc, key, batch)  # ... and it lands
    assert ledger.chain.receipt(tx_hash) is not None

    api = api_on(db, ledger, acc)
    retry = transfer(api, key, batch)
    assert retry.status_code == 201, retry.text
    assert retry.json()["tx_hash"] == tx_hash
    assert ledger.chain.w3.eth.get_transaction_count(relayer) == sent_before + 1  # no second
    assert held_by_trader1(api, batch) == 2 * TONNE
    assert transfer(api, key, batch).json() == retry.json()


def test_a_pending_key_whose_transaction_vanished_runs_afresh(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    key = f"vanished-{request.node.name}"
    vanished = killed_while_waiting(db, ledger, acc, key, batch, dropped=True)
    assert ledger.chain.rpc("eth_getTransactionByHash", vanished) is None  # nobody has it

    api = api_on(db, ledger, acc)
    retry = transfer(api, key, batch)
    assert retry.status_code == 201, retry.text
    receipt = ledger.chain.receipt(retry.json()["tx_hash"])  # sent afresh, and mined
    assert receipt is not None and receipt["status"] == 1
    assert held_by_trader1(api, batch) == 2 * TONNE


def test_a_pending_key_abandoned_before_signing_is_taken_over_after_its_lease(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    key = f"abandoned-{request.node.name}"
    body = TransferIn.model_validate({"to": acc["trader1"].address, "batch_id": batch,
                                      "amount": "2"})
    with session_factory(db.engine)() as s:  # an API process died after claiming the key
        account = s.scalar(select(ApiAccount.id).where(
            ApiAccount.address == acc["developer"].address))
        s.add(IdempotentRequest(
            api_account_id=account, key=key, route="transfers",
            request_hash=_request_hash("transfers", body), state="pending", attempt="dead",
            created_at=datetime.now(UTC) - timedelta(seconds=PENDING_LEASE_SECONDS + 1)))
        s.commit()
    api = api_on(db, ledger, acc)
    retry = transfer(api, key, batch)
    assert retry.status_code == 201, retry.text
    assert held_by_trader1(api, batch) == 2 * TONNE


def claim_and_hang(db: ApiDatabase, key: str, body: TransferIn, url: str,
                   claimed: Any) -> None:
    """An API process of its own that claims `key` for the developer's transfer the way the
    route does, then stops before signing anything (until it is killed)."""
    engine = make_engine(db.settings.db_url)
    with session_factory(engine)() as s:
        account = s.scalar(select(ApiAccount.id).where(
            ApiAccount.address == dev_accounts()["developer"].address))
        assert account is not None
        caller = Caller(account, "developer", dev_accounts()["developer"].address, None)
        with idempotent(s, caller, "transfers", key, body, Chain(url)):
            claimed.set()
            time.sleep(60)
    os._exit(0)


def claimed_by_a_process(db: ApiDatabase, ledger: Ledger, key: str,
                         batch: int, to: str) -> multiprocessing.process.BaseProcess:
    """A running process holding a pending claim on `key` (no transaction signed)."""
    body = TransferIn.model_validate({"to": to, "batch_id": batch, "amount": "2"})
    ctx = multiprocessing.get_context("fork")
    claimed = ctx.Event()
    proc = ctx.Process(target=claim_and_hang, args=(db, key, body, ledger.chain.url, claimed))
    proc.start()
    assert claimed.wait(30), "the claim was not made"
    return proc


def test_a_pending_key_whose_process_died_before_signing_is_taken_over_at_once(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    key = f"died-{request.node.name}"
    proc = claimed_by_a_process(db, ledger, key, batch, acc["trader1"].address)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)  # well within its lease
    proc.join()
    api = api_on(db, ledger, acc)
    retry = transfer(api, key, batch)
    assert retry.status_code == 201, retry.text
    assert held_by_trader1(api, batch) == 2 * TONNE
    assert transfer(api, key, batch).json() == retry.json()


def test_a_pending_key_whose_process_still_runs_stays_in_progress(
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount],
        request: pytest.FixtureRequest) -> None:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE).batch_id
    key = f"alive-{request.node.name}"
    proc = claimed_by_a_process(db, ledger, key, batch, acc["trader1"].address)
    try:
        retry = transfer(api_on(db, ledger, acc), key, batch)
        assert (retry.status_code, retry.json()["error"]["code"]) == (
            409, "idempotency_in_progress")
        assert held_by_trader1(api_on(db, ledger, acc), batch) == 0
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
