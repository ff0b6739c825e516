"""kill -9 of `tanhui up` itself (API, indexer, exchange and, through it, the embedded chain node)
in the middle of a stream of transfers, retirements and crossing exchange orders, then a restart
on the same data directory. What was acknowledged (a 2xx received) before the kill survives
exactly once: one chain node serves the state file, every acknowledged transfer and retirement
is on chain once and its Idempotency-Key answers it again without moving anything twice, every
acknowledged order is in the journal and each of its trades is settled on chain exactly once,
the SQL index equals the chain, and `/health` says ok. What was in flight (sent, no answer)
finishes exactly once when its client retries it."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.db import make_engine
from devkit.roster import dev_accounts
from devkit.scenario import Scenario, doc
from exchange.onchain import SettlementChain
from tanhui.services import Connection, connect
from tests.support.chain_faults import children
from tests.support.indexing import assert_index_matches_chain
from tests.support.processes import chain_nodes_on, stack_env, start_up, stop

ROOT = Path(__file__).resolve().parents[2]
T = 1_000_000
PRICE = 60_000
INSTRUMENT = 1
ACKS_BEFORE_KILL = 4  # of each kind of write
MAX_ORDER_PAIRS = 200  # 1 t each: within what the seller holds, however slow the other writers
RETRY_SECONDS = 30

sys.path.insert(0, str(ROOT / "examples"))
from trader_client import TraderClient  # noqa: E402


@dataclass
class Write:
    """One request of the stream: what was sent, and the 2xx answer if one came back."""

    kind: str  # transfer | retirement | order
    key: str  # the Idempotency-Key (for an order: its client order id)
    body: dict[str, Any]
    answer: dict[str, Any] | None = None

    @property
    def acknowledged(self) -> bool:
        return self.answer is not None


@dataclass
class Stream:
    """Writes sent by worker threads until the stack stops answering."""

    writes: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked(self, kind: str) -> list[Write]:
        with self.lock:
            return [w for w in self.writes if w.kind == kind and w.acknowledged]

    def of(self, kind: str) -> list[Write]:
        with self.lock:
            return [w for w in self.writes if w.kind == kind]

    def send(self, write: Write, post: Callable[[Write], httpx.Response]) -> bool:
        """Records the write, sends it; False once the stack no longer answers."""
        with self.lock:
            self.writes.append(write)
        try:
            r = post(write)
        except httpx.HTTPError:
            return False
        assert r.status_code in (200, 201), (write, r.status_code, r.text)
        with self.lock:
            write.answer = r.json()
        return True


def prepare(data: Path, api: str) -> tuple[int, dict[str, str]]:
    """A batch: the developer keeps most of it (transfers and retires), trader1 sells 300 t of
    it, trader2 buys with 5 M CNY; the batch listed as instrument 1."""
    conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    acc = dev_accounts()
    sc = SettlementChain(conn.ledger)
    batch = Scenario(conn.ledger, acc).batch(quantity=1_000 * T).batch_id
    conn.ledger.transfer(acc["developer"], acc["trader1"].address, batch, 300 * T)
    sc.deposit(acc["bank"], acc["trader2"].address, 5_000_000_00, doc("wire"))
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    keys: dict[str, str] = json.loads(next(data.glob("dev-api-keys-*.json")).read_text())
    r = httpx.post(api + "/v1/exchange/instruments",
                   headers={"Authorization": f"Bearer {keys['exchange']}"},
                   json={"instrument": INSTRUMENT, "batch_id": batch, "reference_price": PRICE},
                   timeout=30)
    assert r.status_code == 201, r.text
    return batch, keys


def post_write(http: httpx.Client, developer: str) -> Callable[[Write], httpx.Response]:
    paths = {"transfer": "/v1/transfers", "retirement": "/v1/retirements",
             "order": "/v1/exchange/orders"}

    def post(w: Write) -> httpx.Response:
        headers = {} if w.kind == "order" else {"Authorization": f"Bearer {developer}",
                                               "Idempotency-Key": w.key}
        return http.post(paths[w.kind], json=w.body, headers=headers, timeout=30)
    return post


def units(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * T + int(frac.ljust(6, "0"))


def run_stream(stream: Stream, api: str, developer: str, batch: int) -> list[threading.Thread]:
    """Three clients writing at once, each one request after another: transfers to trader3 and
    retirements by the developer (each a different amount, so a duplicate shows in the sums),
    and pairs of crossing orders (trader1 sells 1 t, trader2 buys it)."""
    trader3 = dev_accounts()["trader3"].address
    acc = dev_accounts()
    seller = TraderClient(api, acc["trader1"].key.hex())
    buyer = TraderClient(api, acc["trader2"].key.hex())

    def transfers() -> None:
        with httpx.Client(base_url=api) as http:
            post, i = post_write(http, developer), 0
            while stream.send(Write("transfer", f"transfer-{i}", {
                    "to": trader3, "batch_id": batch, "amount": f"0.{1000 + i:06d}"}), post):
                i += 1

    def retirements() -> None:
        with httpx.Client(base_url=api) as http:
            post, i = post_write(http, developer), 0
            while stream.send(Write("retirement", f"retirement-{i}", {
                    "batch_id": batch, "amount": f"0.{2000 + i:06d}",
                    "beneficiary": "南宁绿色发展基金 Nanning Green Fund",
                    "purpose": "voluntary"}), post):
                i += 1

    def orders() -> None:
        with httpx.Client(base_url=api) as http:
            post = post_write(http, developer)
            for _ in range(MAX_ORDER_PAIRS):
                for client, side in ((seller, "sell"), (buyer, "buy")):
                    signed = client.order(side, INSTRUMENT, PRICE, T)
                    key = signed["order"]["client_order_id"]
                    if not stream.send(Write("order", key, signed), post):
                        return
            while True:  # enough orders (the seller's credits): wait for the kill
                try:
                    http.get("/health", timeout=5)
                except httpx.HTTPError:
                    return
                time.sleep(0.05)

    threads = [threading.Thread(target=f, daemon=True) for f in (transfers, retirements, orders)]
    for t in threads:
        t.start()
    return threads


def retried(post: Callable[[Write], httpx.Response], w: Write) -> httpx.Response:
    """The client's retry of `w` after the restart, repeated while the stack answers that the
    first attempt is still in progress."""
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        r = post(w)
        if not (r.status_code == 409
                and r.json()["error"]["code"] == "idempotency_in_progress"):
            return r
        assert time.monotonic() < deadline, r.text
        time.sleep(0.3)


@dataclass
class Crashed:
    """The stream, the kill and the restart, for the assertions."""

    data: Path
    api: str
    batch: int
    stream: Stream
    old_node: int
    old_node_gone: bool
    nodes_after_restart: list[int]
    conn: Connection
    retries: dict[str, httpx.Response]  # Idempotency-Key / client order id → the retry's answer
    trades: list[dict[str, Any]]  # every trade of every order, once no settlement is pending
    reader: dict[str, str]  # the regulator's key: members' orders are private reads

    def answer(self, w: Write) -> dict[str, Any]:
        body: dict[str, Any] = self.retries[w.key].json()
        return body


@pytest.fixture(scope="module", params=["up", "up-and-chain-node"])
def crashed(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crashed]:
    """`up`: kill -9 of `tanhui up` (its chain node, told by the kernel, dumps its state and
    exits); `up-and-chain-node`: both at once, as in a power cut, so the chain comes back from
    its last periodic dump without the blocks mined since (the outbox sends them again)."""
    data = tmp_path_factory.mktemp("stack-crash") / "data"
    env = stack_env(data)
    api = f"http://127.0.0.1:{env['TANHUI_API_PORT']}"
    up = start_up(env)
    stream = Stream()
    try:
        batch, keys = prepare(data, api)
        [old_node] = children(up.pid, "anvil")
        threads = run_stream(stream, api, keys["developer"], batch)
        deadline = time.monotonic() + 60
        while any(len(stream.acked(k)) < ACKS_BEFORE_KILL
                  for k in ("transfer", "retirement", "order")):
            assert time.monotonic() < deadline, "the stream did not get going"
            assert all(t.is_alive() for t in threads), "a writer stopped"
            time.sleep(0.01)
        if request.param == "up-and-chain-node":
            os.kill(old_node, signal.SIGKILL)
        os.kill(up.pid, signal.SIGKILL)  # mid-stream: each writer has a request in flight
        up.wait(timeout=10)
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a writer did not notice the stack was gone"
    finally:
        stop(up)
    old_node_gone = wait_gone(old_node, timeout=10)

    up = start_up(env)  # same data directory, same port
    try:
        nodes = chain_nodes_on(data / "anvil-state.json")
        conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
        retries: dict[str, httpx.Response] = {}
        with httpx.Client(base_url=api) as http:
            post = post_write(http, keys["developer"])
            for w in stream.of("transfer") + stream.of("retirement") + stream.of("order"):
                retries[w.key] = retried(post, w)
            reader = {"Authorization": f"Bearer {keys['regulator']}"}
            trades = settled_trades(http, [retries[w.key].json()["order_id"]
                                           for w in stream.of("order")
                                           if retries[w.key].status_code == 201], reader)
        yield Crashed(data, api, batch, stream, old_node, old_node_gone, nodes, conn, retries,
                      trades, reader)
    finally:
        stop(up)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and "\nState:\tZ" not in _status(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "\nState:\tZ"


def settled_trades(http: httpx.Client, order_ids: list[int], reader: dict[str, str],
                   timeout: float = 60) -> list[dict[str, Any]]:
    """Every trade of the orders, once none is pending settlement."""
    deadline = time.monotonic() + timeout
    while True:
        trades = {t["trade_id"]: t for oid in order_ids
                  for t in http.get(f"/v1/exchange/orders/{oid}", headers=reader)
                  .raise_for_status()
                  .json()["trades"]}
        if all(t["settlement"] != "pending" for t in trades.values()):
            return list(trades.values())
        assert time.monotonic() < deadline, [t for t in trades.values()
                                             if t["settlement"] == "pending"]
        time.sleep(0.3)


# -- the chain node --------------------------------------------------------------------------


def test_the_chain_node_of_the_killed_stack_is_gone(crashed: Crashed) -> None:
    assert crashed.old_node_gone


def test_the_restarted_stack_runs_exactly_one_chain_node_on_the_state_file(
        crashed: Crashed) -> None:
    assert len(crashed.nodes_after_restart) == 1
    assert crashed.old_node not in crashed.nodes_after_restart
    assert chain_nodes_on(crashed.data / "anvil-state.json") == crashed.nodes_after_restart


# -- transfers and retirements ---------------------------------------------------------------


def test_the_kill_came_in_the_middle_of_the_stream(crashed: Crashed) -> None:
    for kind in ("transfer", "retirement", "order"):
        assert len(crashed.stream.acked(kind)) >= ACKS_BEFORE_KILL
    unanswered = [w for w in crashed.stream.writes if not w.acknowledged]
    assert unanswered, "nothing was in flight at the kill"


def test_every_acknowledged_transfer_and_retirement_is_answered_again_from_the_chain(
        crashed: Crashed) -> None:
    chain = crashed.conn.chain
    for w in crashed.stream.acked("transfer") + crashed.stream.acked("retirement"):
        retry = crashed.retries[w.key]
        assert retry.status_code == 201, (w.key, retry.text)
        assert retry.headers.get("idempotent-replayed") == "true", w.key
        again, first = crashed.answer(w), w.answer
        assert first is not None
        assert {k: v for k, v in again.items() if k != "block_number"} == {
            k: v for k, v in first.items() if k != "block_number"}
        receipt = chain.receipt(first["tx_hash"])
        assert receipt is not None and receipt["status"] == 1, w.key


def test_every_write_in_flight_at_the_kill_is_done_once_when_retried(crashed: Crashed) -> None:
    for w in crashed.stream.writes:
        if not w.acknowledged:
            assert crashed.retries[w.key].status_code == 201, crashed.retries[w.key].text


def test_transferred_credits_equal_the_sum_of_the_transfers_once_each(crashed: Crashed) -> None:
    ledger = crashed.conn.ledger
    sent = sum(units(w.body["amount"]) for w in crashed.stream.of("transfer"))
    assert ledger.balance(dev_accounts()["trader3"].address, crashed.batch) == sent


def test_retirements_on_chain_are_the_retirements_requested_once_each(crashed: Crashed) -> None:
    ledger = crashed.conn.ledger
    credits = ledger.c("CarbonCredits")
    writes = crashed.stream.of("retirement")
    ids = sorted(crashed.answer(w)["retirement_id"] for w in writes)
    assert ids == list(range(ids[0], ids[0] + len(writes)))  # one each, no gap, no extra
    assert ledger.chain.call(credits.functions.retirementCount()) == ids[-1]
    events = credits.events.Retired().get_logs(from_block=crashed.conn.deployment.block)
    assert sorted(int(e.args["amount"]) for e in events) == sorted(
        units(w.body["amount"]) for w in writes)


# -- exchange orders and their settlement ----------------------------------------------------


def test_every_acknowledged_order_is_in_the_journal_under_its_id(crashed: Crashed) -> None:
    with httpx.Client(base_url=crashed.api, timeout=30) as http:
        for w in crashed.stream.acked("order"):
            assert w.answer is not None
            retry = crashed.retries[w.key]
            assert retry.status_code == 201, retry.text
            assert retry.json()["replayed"] is True
            assert retry.json()["order_id"] == w.answer["order_id"]
            held = http.get(f"/v1/exchange/orders/{w.answer['order_id']}",
                            headers=crashed.reader).json()
            assert held["order_hash"] == w.answer["order_hash"]


def test_every_trade_is_settled_on_chain_exactly_once(crashed: Crashed) -> None:
    acked_buys = [w for w in crashed.stream.acked("order") if w.body["order"]["side"] == "buy"]
    assert len(crashed.trades) >= len(acked_buys) > 0  # each acknowledged buy crossed a sell
    conn = crashed.conn
    sc = SettlementChain(conn.ledger)
    events = conn.ledger.c("Settlement").events.TradeSettled().get_logs(
        from_block=conn.deployment.block)
    per_trade = [int(e.args["tradeId"]) for e in events]
    for t in crashed.trades:
        assert t["settlement"] == "settled", t  # nothing here makes a settlement fail
        receipt = conn.chain.receipt(t["tx_hash"])
        assert receipt is not None and receipt["status"] == 1, t
        assert sc.is_settled(t["trade_id"]) and per_trade.count(t["trade_id"]) == 1, t
    assert sorted(per_trade) == sorted(t["trade_id"] for t in crashed.trades)
    bought = sum(t["quantity"] for t in crashed.trades)
    assert conn.ledger.balance(dev_accounts()["trader2"].address, crashed.batch) == bought


# -- the index and health --------------------------------------------------------------------


def test_the_index_equals_the_chain_and_health_is_ok(crashed: Crashed) -> None:
    deadline = time.monotonic() + 30
    while True:
        health = httpx.get(crashed.api + "/health", timeout=10)
        body = health.json()
        if health.status_code == 200 and body["index_lag"] == 0:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert body["status"] == "ok" and body["index_status"] == "ok", body
    engine = make_engine(f"sqlite:///{crashed.data / 'tanhui.db'}")
    try:
        assert_index_matches_chain(engine, crashed.conn.chain, crashed.conn.deployment)
    finally:
        engine.dispose()


pytestmark = pytest.mark.timeout(180)

