"""The Sanming model (三明, Fujian) of forest carbon tickets end to end through the HTTP API on
the chain, with the case's figures: five parcels ticketed (制发) from their plot inventories,
29,715 t in all; 18,294 t of them pledged (质押) to a bank for a 5 million yuan credit line,
which then cannot move, be split, retired or pledged again; 2,723 t sold (流转) on the exchange at
15 yuan/t to a public agency, which retires (抵消) them against its emissions with a
certificate; 0.5 t bought by a person at a carbon supermarket and retired at once; the loan in
default, the bank forecloses and takes the pledged tickets. Every figure is worked by hand in
the comments and checked against the chain, slot by slot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain.client import ChainRevert
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.pledges import AssetKind, Pledges
from registry.tickets import Tickets
from tests.support.api import Api, ApiDatabase, api_database, open_api
from tests.support.sanming import PARCELS, TONNE, YEAR, Ticketed, sanming_world
from tests.support.seed_cases import CaseApi, deposit, exchange_api, open_case_api

INSTRUMENT = 35
PRICE = 1_500  # 15 yuan/t, in fen
MAKER_BPS, TAKER_BPS = 10, 20
LINE = "兴业银行三明分行 林票质押授信 SM-2025-001"
LINE_FEN = 500_000_000  # 5,000,000 yuan
AGENCY = "三明市机关事务服务中心 Sanming Government Offices Service Centre"
SHOPPER = "三明市民 李女士 Ms Li, Sanming"
RECEIPT = "SM-CS-20250601-0001"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-sanming")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[CaseApi]:
    with open_api(db, ledger, acc).http as http:
        yield open_case_api(Api(http, db, ledger, acc))


def refused(api: CaseApi, path: str, who: str, body: Any, status: int) -> str:
    """The code of a refused write, asserting that no ticket value moved."""
    tickets = Tickets(api.ledger)
    before = {t: tickets.ticket(t) for t in range(1, tickets.token_count() + 1)
              if tickets.exists(t)}
    code = api.error("POST", path, who, body, status)
    after = {t: tickets.ticket(t) for t in range(1, tickets.token_count() + 1)
             if tickets.exists(t)}
    assert after == before, f"{path} changed tickets though refused"
    return code


def reverts(api: CaseApi, sender: str, fn: Any) -> str:
    """The custom error the contract answers `sender` with for `fn` (simulated: nothing sent)."""
    with pytest.raises(ChainRevert) as exc:
        api.ledger.chain.simulate(fn, sender)
    return exc.value.name


def new_ticket_of(api: CaseApi, tx_hash: str) -> int:
    """The ticket a settlement created for the buyer (its TransferValue from the sold ticket)."""
    receipt = api.ledger.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    moves = api.ledger.c("ForestTickets").events.TransferValue().process_receipt(
        receipt, errors=DISCARD)
    [move] = [m for m in moves if int(m["args"]["fromTokenId"]) and int(m["args"]["toTokenId"])]
    return int(move["args"]["toTokenId"])


def slot_balances(api: CaseApi, slot: int) -> tuple[int, int, int, int]:
    """(issued, Σ live ticket values outside escrow, pledged, retired) of a slot, from chain."""
    tickets, pledges = Tickets(api.ledger), Pledges(api.ledger)
    s = tickets.slot(slot)
    pledged = pledges.pledged_of(AssetKind.TICKET, slot)
    held = sum(t.value for t in tickets.tickets_of_slot(slot).values()
               if t.owner != pledges.address)
    return s.issued, held, pledged, s.retired


def test_sanming_tickets_are_issued_pledged_sold_retired_and_foreclosed(
        api: CaseApi, tmp_path: Path) -> None:
    ledger = api.ledger
    tickets, pledges = Tickets(ledger), Pledges(ledger)
    world = sanming_world(api, tmp_path / "nodes")
    by_owner: dict[str, Ticketed] = {t.parcel.owner: t for t in world}

    # -- 制发: five parcels, one ticket each, 29,715 t -----------------------------------------
    # 8,214 + 6,523 + 5,870 + 4,988 + 4,120 = 29,715 t, each verified in whole tonnes at or
    # below what the oracle nodes computed from the plots
    assert sum(p.tonnes for p in PARCELS) == 29_715
    assert sum(tickets.value_of(t.ticket_id) for t in world) == 29_715 * TONNE
    for t in world:
        assert t.attested_units >= t.parcel.tonnes * TONNE
        read = api.get(f"/v1/tickets/{t.ticket_id}")
        assert (read["owner"], read["value"], read["slot"]["rights_certificate"]) == (
            api.address(t.parcel.owner), str(t.parcel.tonnes), t.parcel.certificate)
    # 登记: the parcel's register (from the index) and the certificate's one project
    Indexer(ledger.chain, ledger.deployment, api.db.engine).sync()
    jiangle = by_owner["changkou"]
    parcel = api.get(f"/v1/parcels/{jiangle.project_id}/tickets")
    [slot_row] = parcel["slots"]
    assert [tk["id"] for tk in slot_row["tickets"]] == [jiangle.ticket_id]
    certificate = jiangle.parcel.certificate
    owners = api.get(f"/v1/projects/parcels/by-certificate?certificate={certificate}")
    assert [p["project_id"] for p in owners["projects"]] == [jiangle.project_id]
    # the same parcel and period cannot be ticketed twice
    assert refused(api, "/v1/tickets", "forestry_bureau",
                   {"report_id": jiangle.report_id,
                    "rights_certificate": jiangle.parcel.certificate},
                   409) == "report_already_claimed"

    # -- 质押: 18,294 t to the bank for a 5 million yuan line --------------------------------
    # Changkou's and Yubang's whole tickets (8,214 + 6,523 = 14,737 t) and 3,557 t split off
    # Hongtian's: 14,737 + 3,557 = 18,294 t. The line is shared by tonnes, each share rounded
    # down to the fen and the remainder on the last pledge: 500,000,000 × 8,214 / 18,294 =
    # 224,499,836.0…, × 6,523 / 18,294 = 178,282,496.0…, and 500,000,000 − 224,499,836 −
    # 178,282,496 = 97,217,668 fen.
    hongtian = by_owner["hongtian"]
    split = api.post(f"/v1/tickets/{hongtian.ticket_id}/split", "hongtian", {"amount": "3557"},
                     status=201)
    maturity = api.chain_time() + YEAR
    liens = []
    for owner, ticket, tonnes, fen in (
            ("changkou", jiangle.ticket_id, "8214", 224_499_836),
            ("yubang", by_owner["yubang"].ticket_id, "6523", 178_282_496),
            ("hongtian", split["new_id"], "3557", 97_217_668)):
        made = api.post("/v1/pledges", owner, {
            "asset": "ticket", "token_id": ticket, "amount": tonnes,
            "bank": api.acc["bank"].address, "loan_reference": LINE,
            "loan_amount_yuan": f"{fen // 100}.{fen % 100:02d}", "maturity": maturity},
            status=201)["pledge"]
        assert (made["status"], made["value"], made["amount_fen"]) == ("active", tonnes, fen)
        liens.append(made)
    assert sum(p["amount_fen"] for p in liens) == LINE_FEN
    assert sum(int(p["value"]) for p in liens) == 18_294
    # the register is public: another lender sees every lien, by bank and on each slot
    assert [p["id"] for p in api.get(f"/v1/pledges?bank={api.acc['bank'].address}")] == \
        [p["id"] for p in liens]
    assert [p["id"] for p in api.get(f"/v1/pledges?ticket_slot={hongtian.slot}")] == \
        [liens[2]["id"]]

    # pledged value cannot be transferred, split, retired or pledged a second time — refused
    # over HTTP before anything is sent, and by the contracts themselves
    escrow = liens[0]["token_id"]
    assert tickets.owner_of(escrow) == pledges.address
    agency_address = api.admit("agency", AGENCY)
    for path, body in (
            (f"/v1/tickets/{escrow}/transfer", {"to": agency_address, "amount": "1"}),
            (f"/v1/tickets/{escrow}/split", {"amount": "1"}),
            (f"/v1/tickets/{escrow}/retire", {"amount": "1", "beneficiary": AGENCY,
                                              "purpose": "voluntary"})):
        assert refused(api, path, "changkou", body, 409) == "ticket_in_escrow", path
    assert refused(api, "/v1/pledges", "changkou", {
        "asset": "ticket", "token_id": escrow, "amount": "1", "bank": api.acc["bank"].address,
        "loan_reference": "second lender", "loan_amount_yuan": "100000",
        "maturity": maturity}, 409) == "already_pledged"
    changkou = api.address("changkou")
    ft, pr = ledger.c("ForestTickets").functions, ledger.c("PledgeRegister").functions
    assert reverts(api, changkou, ft.split(escrow, TONNE)) == "NotOwnerNorApproved"
    assert reverts(api, changkou, ft.transferFrom(escrow, agency_address, TONNE)) == \
        "NotOwnerNorApproved"
    assert reverts(api, changkou, ft.retire(escrow, TONNE, AGENCY, 0, "")) == "NotTicketOwner"
    assert reverts(api, changkou, pr.pledgeTicket(escrow, TONNE, api.acc["bank"].address,
                                                  b"\x01" * 32, 1, maturity)) == \
        "NotTicketOwner"
    # the bank cannot take the tickets before maturity; only the pledge's bank releases it
    assert refused(api, f"/v1/pledges/{liens[0]['id']}/foreclose", "bank", None,
                   409) == "not_matured"
    assert api.error("POST", f"/v1/pledges/{liens[0]['id']}/release", "changkou", None,
                     403) == "not_pledge_bank"

    # -- 流转: 2,723 t of Ziyun's ticket sold on the exchange at 15 yuan/t -------------------
    ziyun = by_owner["ziyun"]
    deposit(api, "agency", 4_100_000, "三明市机关事务服务中心 购买林业碳票 41,000 元")
    with exchange_api(api, tmp_path / "exchange", "exchange", MAKER_BPS, TAKER_BPS) as (x, ex):
        start = tickets.slot(ziyun.slot).period_start
        x.post("/v1/exchange/instruments", "exchange", {
            "instrument": INSTRUMENT, "ticket_class": {
                "division_prefix": 3504, "prefix_digits": 4, "vintage_from": start,
                "vintage_to": start + 1},
            "tick": 5, "lot": TONNE, "reference_price": PRICE}, status=201)
        for who in ("ziyun", "agency"):
            x.post("/v1/exchange/approvals", who, {}, status=201)
        expiry = x.chain_time() + 86_400
        sell = x.post("/v1/exchange/orders", "ziyun", {"order": {
            "side": "sell", "instrument": INSTRUMENT, "price": PRICE, "quantity": 2_723 * TONNE,
            "expiry": expiry}}, status=201)
        assert sell["status"] == "open"
        buy = x.post("/v1/exchange/orders", "agency", {"order": {
            "side": "buy", "instrument": INSTRUMENT, "price": PRICE, "quantity": 2_723 * TONNE,
            "expiry": expiry}}, status=201)
        assert buy["status"] == "filled"
        assert ex.worker.run_once() == 1
        [trade] = x.read(f"/v1/exchange/orders/{buy['order_id']}", "agency")["trades"]
        assert (trade["settlement"], trade["quantity"], trade["price"]) == (
            "settled", 2_723 * TONNE, PRICE)
    bought = new_ticket_of(api, trade["tx_hash"])
    assert (tickets.owner_of(bought), tickets.value_of(bought)) == (agency_address, 2_723 * TONNE)
    assert tickets.value_of(ziyun.ticket_id) == (4_988 - 2_723) * TONNE
    # value 2,723 t × 1,500 fen/t = 4,084,500 fen; the agency (taker) pays it plus
    # ⌊4,084,500 × 20 / 10,000⌋ = 8,169 fen; Ziyun (maker) receives it less
    # ⌊4,084,500 × 10 / 10,000⌋ = 4,084 fen
    assert api.cash("agency") == 4_100_000 - 4_084_500 - 8_169 == 7_331
    assert api.cash("ziyun") == 4_084_500 - 4_084 == 4_080_416

    # -- 抵消: the agency retires what it bought against its 2024 emissions -----------------
    retired = api.post(f"/v1/tickets/{bought}/retire", "agency", {
        "amount": "2723", "beneficiary": f"{AGENCY} 2024 年度公务活动碳排放",
        "purpose": "voluntary"}, status=201)
    assert (retired["serial_start"], retired["serial_end"]) == (1, 2_723 * TONNE)
    page = api.http.get(retired["certificate_url"])
    assert page.status_code == 200 and "林业碳票" in page.text and AGENCY in page.text
    record = api.get(f"/v1/tickets/retirements/{retired['retirement_id']}")
    assert record["slot"] == ziyun.slot

    # -- 碳汇超市: a person buys 0.5 t at a retail seat, retired at once ---------------------
    houlou = by_owner["houlou"]
    api.admit("supermarket", "三明林业碳汇超市 Sanming forest carbon supermarket", "retail")
    moved = api.post(f"/v1/tickets/{houlou.ticket_id}/transfer", "houlou",
                     {"to": api.address("supermarket"), "amount": "10"}, status=201)
    shelf = api.post("/v1/retail/stock", "supermarket",
                     {"asset": "ticket", "token_id": moved["new_id"], "amount": "10"},
                     status=201)["shelf_token_id"]
    sale = api.post("/v1/retail/sales", "supermarket", {
        "asset": "ticket", "token_id": shelf, "amount": "0.5", "beneficiary": SHOPPER,
        "buyer_reference": RECEIPT, "price_yuan": "7.50"}, status=201)
    assert (sale["serial_start"], sale["serial_end"], sale["price_fen"]) == (1, TONNE // 2, 750)
    assert api.http.get(sale["certificate_url"].removeprefix(api.db.settings.base_url)
                        ).status_code == 200
    seat = api.address("supermarket")
    mine = api.get(f"/v1/retail/sales?seat={seat}&buyer_reference={RECEIPT}")
    assert [s["retirement_id"] for s in mine["sales"]] == [sale["retirement_id"]]
    assert (mine["total_amount"], mine["total_price_fen"]) == ("0.5", 750)

    # -- default: past maturity the bank forecloses and takes the 18,294 t ----------------
    ledger.chain.rpc("evm_increaseTime", YEAR + 1)
    ledger.chain.rpc("evm_mine")
    for lien in liens:
        done = api.post(f"/v1/pledges/{lien['id']}/foreclose", "bank", None)["pledge"]
        assert done["status"] == "foreclosed"
    bank = api.acc["bank"].address
    assert [tickets.owner_of(p["token_id"]) for p in liens] == [bank] * 3
    assert sum(tickets.value_of(p["token_id"]) for p in liens) == 18_294 * TONNE
    assert refused(api, f"/v1/pledges/{liens[0]['id']}/release", "bank", None,
                   409) == "pledge_not_active"

    # -- every tonne counted once: per slot, issued = held + pledged + retired -----------------
    # Changkou 8,214 = 8,214 (the bank's) + 0 + 0; Yubang 6,523 likewise; Hongtian 5,870 =
    # 2,313 (its own) + 3,557 (the bank's); Ziyun 4,988 = 2,265 (its own) + 0 + 2,723 (retired
    # by the agency); Houlou 4,120 = 4,110 (its own) + 9.5 (the shelf) + 0.5 (retired)
    expected = {"changkou": (8_214, 8_214, 0, 0), "yubang": (6_523, 6_523, 0, 0),
                "hongtian": (5_870, 5_870, 0, 0), "ziyun": (4_988, 2_265, 0, 2_723),
                "houlou": (4_120, 4_119.5, 0, 0.5)}
    for owner, t in by_owner.items():
        issued, held, pledged, retired_units = slot_balances(api, t.slot)
        assert issued == held + pledged + retired_units
        assert (issued, held, pledged, retired_units) == tuple(
            int(v * TONNE) for v in expected[owner]), owner
