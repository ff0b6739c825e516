"""The exchange harness: a real exchange (journal, engine, settlement worker) on the session's
chain, an instrument listed over the HTTP API, and signed order bodies. The fixtures are
registered for every test module by tests/conftest.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from devkit.scenario import Scenario, doc
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange, open_exchange
from exchange.signing import Order, sign_order, sign_read
from registry.ledger import Ledger
from tests.support.api import Api, ApiDatabase, api_database

T = 1_000_000
PRICE = 60_000
INSTRUMENT = 11


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-exchange")), acc)


@pytest.fixture
def market(ledger: Ledger, acc: dict[str, LocalAccount]) -> int:
    """trader1 holds 100 t of a batch, trader2 500,000 CNY; both approved settlement."""
    sc = SettlementChain(ledger)
    b = Scenario(ledger, acc).batch(quantity=1_000 * T)
    ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 100 * T)
    sc.deposit(acc["bank"], acc["trader2"].address, 500_000_00, doc("wire"))
    for seat in ("trader1", "trader2", "trader3"):
        sc.approve_trading(acc[seat])
    sc.set_fees(acc["exchange"], acc["exchange"].address, 10, 20)
    return b.batch_id


@pytest.fixture
def ex(ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
       market: int) -> Iterator[Exchange]:
    e = open_exchange(ledger, tmp_path / "exchange", acc["exchange"], balance_ttl=0)
    yield e
    e.stop()


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount], ex: Exchange,
        market: int) -> Iterator[Api]:
    app = create_app(db.settings, ledger, db.engine, ex.service, relayer=acc["governance"])
    with TestClient(app) as http:
        a = Api(http, db, ledger, acc)
        a.post("/v1/exchange/instruments", "exchange",
               {"instrument": INSTRUMENT, "batch_id": market, "tick": 5, "lot": T,
                "reference_price": PRICE}, status=201)
        yield a


def signed(acc: dict[str, LocalAccount], ex: Exchange, seat: str, side: str, price: int,
           qty: int, nonce: int, tif: str = "gtc", expiry: int | None = None,
           client: int = 0, instrument: int = INSTRUMENT, batch: int | None = None,
           max_fee_bps: int = 20, retire_for: int = 0) -> dict[str, object]:
    """A signed order body; a sell delivers the instrument's batch unless `batch` names one,
    a buy accepts any batch (0) unless it names one; the fee cap is the fixture's taker fee;
    `retire_for` a compensation order to retire the purchase for (0: delivered)."""
    a = acc[seat]
    expiry = expiry if expiry is not None else int(time.time()) + 3_600
    if batch is None:
        listing = ex.service.reads.listings.get(instrument)
        batch = listing.batch_id if side == "sell" and listing is not None else 0
    o = Order(a.address, 0 if side == "buy" else 1, instrument, price, qty,
              ("gtc", "ioc", "fok").index(tif), nonce, expiry, client.to_bytes(32, "big"),
              batch_id=batch, max_fee_bps=max_fee_bps, retire_for=retire_for)
    return {"order": {"trader": a.address, "side": side, "instrument": instrument,
                      "batch_id": batch, "price": price, "quantity": qty,
                      "max_fee_bps": max_fee_bps, "time_in_force": tif, "nonce": nonce,
                      "expiry": expiry, "client_order_id": "0x" + o.client_order_id.hex(),
                      "retire_for": retire_for},
            "signature": "0x" + sign_order(a, o, ex.chain.domain).hex()}


def read_token(account: LocalAccount, ex: Exchange, ttl: int = 600,
               expiry: int | None = None) -> dict[str, str]:
    """The `X-Read-Token` header an own-key trader sends to read its orders and cash: its
    EIP-712 ReadAccount(account, expiry) signature under the exchange's domain."""
    expiry = expiry if expiry is not None else int(time.time()) + ttl
    signature = sign_read(account, expiry, ex.chain.domain)
    return {"X-Read-Token": f"{account.address}:{expiry}:0x{signature.hex()}"}


def reopened(ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount]) -> Exchange:
    """The exchange stopped and started again on its journal (one process per journal, so the
    old one is closed first); the caller closes the new one."""
    ex.service.close()
    return open_exchange(ledger, ex.service.journal.directory, acc["exchange"], balance_ttl=0)


def place(api: Api, body: dict[str, object]) -> dict[str, object]:
    """Posts a signed order that must be accepted; returns its view."""
    view: dict[str, object] = api.post("/v1/exchange/orders", None, body, status=201)
    return view


def refusal(api: Api, body: dict[str, object]) -> tuple[int, str]:
    """Posts a signed order that must be refused; returns (HTTP status, error code)."""
    r = api.raw("POST", "/v1/exchange/orders", None, body)
    return r.status_code, r.json()["error"]["code"]
