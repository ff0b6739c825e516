"""Compensation orders to certify, for the fulfilment certificate tests (no tests here).

A Qinzhou case as scenario data (DESIGN.md, Flow 11): the procuratorate registers an order over
HTTP, the liable parties retire mangrove credits of the Maowei Sea (450702) for it through the
API, on the real chain. And one way a record on the chain can stop verifying: its stored hash
overwritten in the contract's storage (anvil_setStorageAt), as a forged chain would hold it.
"""

from __future__ import annotations

import re
from typing import Any

from eth_utils import keccak, to_checksum_address

from devkit.scenario import Scenario
from exchange.onchain import SettlementChain
from registry.ledger import Ledger
from tests.support.api import TONNE, Api

ORDER_CASE = "（2026）桂07民初88号"
AUTHORITY_NAME = "钦州市人民检察院 Qinzhou Procuratorate"
PARTY_NAMES = ["广西北港新材料有限公司", "南宁绿色发展基金", "林某某"]
TRADER1_NAME = "广西北港新材料有限公司 Beigang New Materials Co."
TRADER2_NAME = "南宁绿色发展基金 Nanning Green Fund"


def chain_time(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def register_order(api: Api, case: str = ORDER_CASE, required_tonnes: str = "10",
                   **over: Any) -> int:
    """An order of the procuratorate for `case`: mangrove credits of Qinzhou (4507), parties
    trader1 and trader2 by account and three liable parties by name; its id."""
    body: dict[str, Any] = {
        "case_number": case, "required_tonnes": required_tonnes, "categories": ["mangrove"],
        "regions": ["4507"], "deadline": chain_time(api.ledger) + 90 * 86_400,
        "parties": [api.acc["trader1"].address, api.acc["trader2"].address],
        "party_names": PARTY_NAMES, "document_hash": "0x" + keccak(text=case).hex(),
    }
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    return int(api.post("/v1/compensation/orders", "procuratorate", body,
                        status=201)["order"]["id"])


def holding(api: Api, seat: str, tonnes: int) -> int:
    """A fresh batch of Maowei Sea mangrove credits; `tonnes` of it moved to `seat`."""
    batch = Scenario(api.ledger, api.acc).batch(100 * TONNE)
    api.ledger.transfer(api.acc["developer"], api.acc[seat].address, batch.batch_id,
                        tonnes * TONNE)
    return batch.batch_id


def retire_for_order(api: Api, order_id: int, seat: str, amount: str,
                     batch_id: int | None = None) -> int:
    """`amount` tonnes retired by `seat` for the order (from a fresh holding unless a batch
    is given); the retirement id."""
    if batch_id is None:
        batch_id = holding(api, seat, int(float(amount)) + 1)
    r = api.post(f"/v1/compensation/orders/{order_id}/retirements", seat,
                 {"batch_id": batch_id, "amount": amount}, status=201)
    return int(r["retirement_id"])


def fulfilled_order(api: Api, case: str = ORDER_CASE) -> tuple[int, list[int]]:
    """A 10 t order fulfilled by two retirements, 4 t by trader1 and 6 t by trader2."""
    order_id = register_order(api, case)
    first = retire_for_order(api, order_id, "trader1", "4")
    second = retire_for_order(api, order_id, "trader2", "6")
    return order_id, [first, second]


def qr_link_of(html: str) -> str:
    """The link a certificate's QR code holds (the `a.qr` around it)."""
    m = re.search(r'<a class="qr" href="([^"]+)"', html)
    assert m is not None
    return m.group(1).replace("&amp;", "&")


def break_retirement_record(ledger: Ledger, retirement_id: int) -> None:
    """Overwrites the record hash CarbonCredits stores for the retirement (its
    `retirementHash` mapping slot, found by value), so the record no longer verifies."""
    credits = ledger.c("CarbonCredits")
    stored = bytes(ledger.chain.call(credits.functions.retirementHash(retirement_id)))
    address = to_checksum_address(credits.address)
    for position in range(256):
        slot = keccak(retirement_id.to_bytes(32, "big") + position.to_bytes(32, "big"))
        if bytes(ledger.chain.w3.eth.get_storage_at(address, int.from_bytes(slot, "big"))) \
                == stored:
            ledger.chain.rpc("anvil_setStorageAt", address, "0x" + slot.hex(),
                             "0x" + keccak(text="forged").hex())
            return
    raise AssertionError(f"no storage slot holds retirement {retirement_id}'s hash")


def cny_order_bought_through_an_offer(api: Api, case: str = "（2025）浙0922刑初45号",
                                      yuan: str = "500.00") -> tuple[int, int]:
    """The Shengsi shape (DESIGN.md): an order of `yuan` the procuratorate pays for from
    compensation funds, fulfilled by taking trader2's offer at 100 yuan/t; (order id,
    retirement id)."""
    order_id = register_order(api, case, required_tonnes=None, required_cny=yuan, parties=[],
                              authority_pays=True, party_names=["某养殖户（未入盟）"])
    batch_id = holding(api, "trader2", 8)
    offer = api.post(f"/v1/compensation/orders/{order_id}/offers", "trader2", {
        "batch_id": batch_id, "amount": "8", "price_fen_per_tonne": 10_000,
        "expiry": chain_time(api.ledger) + 86_400}, status=201)["offer"]
    SettlementChain(api.ledger).deposit(api.acc["bank"], api.acc["procuratorate"].address,
                                        100_000, keccak(text="compensation funds"))
    tonnes = str(int(yuan.split(".")[0]) // 100)
    taken = api.post(f"/v1/compensation/offers/{offer['id']}/take", "procuratorate",
                     {"amount": tonnes}, status=201)
    return order_id, int(taken["retirement_id"])
