"""A trader's client for the Tanhui exchange, using only eth-account and HTTP (httpx).

It reads the EIP-712 domain from the exchange, signs orders with the trader's own key, places
them, and watches the trade settle on chain through the registry API's balance routes. Nothing
from the Tanhui code base is imported: this is what a member's own system does.

    python examples/trader_client.py --api http://127.0.0.1:8100 --key 0x... \\
        --side buy --instrument 1 --price 60000 --tonnes 5

Units: price in fen per tonne (60000 = 600.00 CNY/t); quantity in tonnes on the command line,
sent as credit units (1 t = 1,000,000).

What the signature binds, besides price and quantity: the fee cap (`maxFeeBps`, the exchange's
current fee from the domain answer), the delivery batch (a sell signs the batch it delivers,
taken from the instrument's listing; a buy signs 0, any batch the instrument admits), a nonce
(unique per trader: numbered on from the exchange's next free nonce, so the settlement
contract records consecutive orders in one storage word), an expiry (short for IOC and FOK:
the contract cannot see time in force, but never settles an order after its expiry) and, for a
buy made to fulfil an ecological-compensation order, that order's id (`retireFor`, `--retire-for`:
what it buys is retired for the order in the same settlement and never reaches the trader's
balance; 0, the default, delivers as usual; a sell always signs 0).

Reads of the trader's own orders, nonces and cash need its authentication: this client has no
API key, so it signs an EIP-712 `ReadAccount(account, expiry)` for a few minutes at a time and
sends it as `X-Read-Token: <account>:<expiry>:<signature>` (the exchange refuses anonymous
reads of a member's data).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from typing import Any

import httpx
from eth_account import Account

UNITS_PER_TONNE = 1_000_000
IMMEDIATE_TTL = 300  # seconds an IOC or FOK order stays settleable
READ_TOKEN_TTL = 300  # seconds a signed read token is good for (the exchange allows 3,600)


class TraderClient:
    def __init__(self, api: str, private_key: str) -> None:
        self.http = httpx.Client(base_url=api, timeout=30)
        self.account = Account.from_key(private_key)
        info = self.http.get("/v1/exchange/domain").raise_for_status().json()
        self.domain: dict[str, Any] = info["domain"]
        self.types: dict[str, Any] = info["types"]
        self.cancel_types: dict[str, Any] = info["cancel"]["types"]
        self.read_types: dict[str, Any] = info["read"]["types"]
        self.read_header = str(info["read"]["header"])
        self._read_token: tuple[int, str] | None = None  # (expiry, header value)
        self.fee_bps = int(info["fees"]["fee_bps"])
        self._nonce: int | None = None
        self._batches: dict[int, int | None] = {}

    @property
    def address(self) -> str:
        return str(self.account.address)

    def read_headers(self) -> dict[str, str]:
        """The signed read token for this trader's own data, renewed a minute before it
        expires."""
        now = int(time.time())
        if self._read_token is None or self._read_token[0] - 60 <= now:
            expiry = now + READ_TOKEN_TTL
            signature = self._sign(self.read_types, "ReadAccount",
                                   {"account": self.address, "expiry": expiry})
            self._read_token = (expiry, f"{self.address}:{expiry}:0x{signature.hex()}")
        return {self.read_header: self._read_token[1]}

    def next_nonce(self) -> int:
        """The next nonce to sign: the exchange's next free one for this trader at first, then
        counted on here."""
        if self._nonce is None:
            r = self.http.get(f"/v1/exchange/nonces/{self.address}",
                              headers=self.read_headers()).raise_for_status()
            self._nonce = int(r.json()["next_nonce"])
        nonce, self._nonce = self._nonce, self._nonce + 1
        return nonce

    def delivery_batch(self, instrument: int) -> int:
        """The batch a sell on `instrument` delivers: the one it lists (a class instrument has
        none: the seller names one of its eligible batches)."""
        if instrument not in self._batches:
            listed = self.http.get("/v1/exchange/instruments").raise_for_status().json()
            self._batches.update({int(i["instrument"]): i["batch_id"] for i in listed})
        batch = self._batches.get(instrument)
        if batch is None:
            raise ValueError(f"instrument {instrument} is a class: name the batch to deliver")
        return int(batch)

    def order(self, side: str, instrument: int, price: int, quantity: int, tif: str = "gtc",
              ttl: int | None = None, nonce: int | None = None,
              batch_id: int | None = None, retire_for: int = 0) -> dict[str, Any]:
        """A signed order, ready to POST (`retire_for`: a buy's compensation order)."""
        if batch_id is None:
            batch_id = self.delivery_batch(instrument) if side == "sell" else 0
        ttl = ttl if ttl is not None else 3_600 if tif == "gtc" else IMMEDIATE_TTL
        message = {
            "trader": self.address, "side": 0 if side == "buy" else 1,
            "instrument": instrument, "batchId": batch_id, "price": price,
            "quantity": quantity, "maxFeeBps": self.fee_bps,
            "timeInForce": ["gtc", "ioc", "fok"].index(tif),
            "nonce": nonce if nonce is not None else self.next_nonce(),
            "expiry": int(time.time()) + ttl, "clientOrderId": secrets.token_bytes(32),
            "retireFor": retire_for,
        }
        signature = self._sign(self.types, "Order", message)
        return {
            "order": {"trader": self.address, "side": side, "instrument": instrument,
                      "batch_id": batch_id, "price": price, "quantity": quantity,
                      "max_fee_bps": self.fee_bps, "time_in_force": tif,
                      "nonce": message["nonce"], "expiry": message["expiry"],
                      "client_order_id": "0x" + message["clientOrderId"].hex(),
                      "retire_for": retire_for},
            "signature": "0x" + bytes(signature).hex(),
        }

    def _sign(self, types: dict[str, Any], primary: str, message: dict[str, Any]) -> bytes:
        typed = {"types": {"EIP712Domain": [
            {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"}], **types},
            "primaryType": primary, "domain": self.domain, "message": message}
        return bytes(self.account.sign_typed_data(full_message=typed).signature)

    def cancel(self, order: dict[str, Any]) -> dict[str, Any]:
        """Cancels one of this trader's orders (as answered by `place`) with a signed
        CancelOrder(orderHash): no API key needed."""
        signature = self._sign(self.cancel_types, "CancelOrder",
                               {"orderHash": bytes.fromhex(order["order_hash"][2:])})
        r = self.http.post(f"/v1/exchange/orders/{order['order_id']}/cancel",
                           json={"signature": "0x" + signature.hex()})
        if r.status_code >= 400:
            raise RuntimeError(f"cancel refused: {r.status_code} {r.text}")
        return dict(r.json())

    def place(self, signed: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post("/v1/exchange/orders", json=signed)
        if r.status_code >= 400:
            raise RuntimeError(f"order refused: {r.status_code} {r.text}")
        return dict(r.json())

    def open_orders(self) -> list[dict[str, Any]]:
        """This trader's working orders (after a reconnect, say)."""
        r = self.http.get("/v1/exchange/orders", params={"trader": self.address},
                          headers=self.read_headers())
        return list(r.raise_for_status().json()["items"])

    def order_status(self, order_id: int) -> dict[str, Any]:
        r = self.http.get(f"/v1/exchange/orders/{order_id}", headers=self.read_headers())
        return dict(r.raise_for_status().json())

    def cash(self) -> dict[str, Any]:
        """This trader's exchange cash in fen: balance, reserved for the exchange, free."""
        r = self.http.get(f"/v1/exchange/cash/{self.address}", headers=self.read_headers())
        return dict(r.raise_for_status().json())

    def wait_settled(self, order_id: int, timeout: float = 60) -> dict[str, Any]:
        """Polls until every trade of the order is settled on chain."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.order_status(order_id)
            trades = status["trades"]
            if trades and all(t["settlement"] == "settled" for t in trades):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order_id} not settled: {status}")
            time.sleep(0.3)

    def credits(self, batch_id: int) -> int:
        """Credit units of a batch this trader holds, from the registry's index."""
        r = self.http.get(f"/v1/accounts/{self.address}/balances")
        if r.status_code != 200:
            return 0
        return sum(int(b["amount_units"]) for b in r.json()["items"]
                   if int(b["batch_id"]) == batch_id)


def main() -> None:
    p = argparse.ArgumentParser(description="Sign and place an order on the Tanhui exchange.")
    p.add_argument("--api", required=True)
    p.add_argument("--key", required=True, help="the trader's private key (hex)")
    p.add_argument("--side", choices=["buy", "sell"], required=True)
    p.add_argument("--instrument", type=int, required=True)
    p.add_argument("--price", type=int, required=True, help="fen per tonne")
    p.add_argument("--tonnes", type=int, required=True)
    p.add_argument("--tif", choices=["gtc", "ioc", "fok"], default="gtc")
    p.add_argument("--batch", type=int, default=None,
                   help="a sell's delivery batch (default: the instrument's)")
    p.add_argument("--retire-for", type=int, default=0,
                   help="a buy's compensation order id: retire what it buys for that order")
    p.add_argument("--wait", action="store_true", help="wait until its trades settle")
    a = p.parse_args()
    client = TraderClient(a.api, a.key)
    placed = client.place(client.order(a.side, a.instrument, a.price,
                                       a.tonnes * UNITS_PER_TONNE, a.tif, batch_id=a.batch,
                                       retire_for=a.retire_for))
    print(json.dumps(placed, indent=2, ensure_ascii=False))
    if a.wait and placed["trades"]:
        print(json.dumps(client.wait_settled(placed["order_id"]), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
