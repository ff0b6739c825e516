"""The seed's ecological-compensation cases (seed 001), end to end through the HTTP API on the
chain, with their real figures: each test builds its own world — the case's members, a
methodology of the sink category the case buys, the project at its division code, a monitoring
report attested by two oracle nodes and verified, the batch issued — then runs the order and
checks the final state on chain, balance by balance (worked out by hand in the comments).

- Shengsi, Zhejiang, 2025-06-06: 嵊泗县检察院 used 50,000 yuan of ecological-damage
  compensation to buy 500 t of 厚壳贻贝 farming sediment carbon at 100 yuan/t.
- Lianjiang, Fujian, 2025-04-11: three case parties, guided by 福清市检察院, bought 326.4 t of
  macroalgae sediment + recalcitrant-DOC carbon as cross-region substitute restoration.
- Xiamen, 2025-05-26: an offender in a soil-conservation case bought 483.88 t of 宁夏彭阳
  soil-and-water conservation carbon through the Xiamen exchange (administrative enforcement).

Case numbers, party names and prices the seed does not give are illustrative; the tonnes, the
amount, the price per tonne, the places and the sink categories are the seed's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from devkit.sample_data import (
    FARM_PERIOD,
    LIANJIANG_TARGET_UNITS,
    SHENGSI_TARGET_UNITS,
    farm_for_target,
)
from registry.categories import SinkCategory
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api
from tests.support.seed_cases import (
    DAY,
    ZERO_ADDRESS,
    CaseApi,
    Site,
    attested_report,
    credit_moves,
    deposit,
    exchange_api,
    gross_for_net,
    h,
    measured_report,
    methodology,
    open_case_api,
    project,
    retirements_in,
    transfer,
    verify_and_issue,
)

CREDITING_YEARS = 10
MARICULTURE_BUFFER_BPS = 1_000  # 10 % of every issuance held against reversal


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-seed-cases")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[CaseApi]:
    with open_api(db, ledger, acc).http as http:
        yield open_case_api(Api(http, db, ledger, acc))


def crediting() -> tuple[int, int]:
    """The projects' crediting period: from the monitored 2024 season, ten years."""
    return FARM_PERIOD.start, FARM_PERIOD.start + CREDITING_YEARS * 365 * DAY


# -- Shengsi (嵊泗), Zhejiang 330922, 2025-06-06 -----------------------------------------------

SHENGSI_CASE = "嵊检民公〔2025〕1号"
SHENGSI_FUNDS_FEN = 5_000_000  # 5 万元 of ecological-damage compensation
SHENGSI_PRICE_FEN_PER_TONNE = 10_000  # 100 yuan/t


def shengsi_world(api: CaseApi, state_dir: Path) -> dict[str, Any]:
    """嵊泗县人民检察院 (an authority) and 嵊泗山海奇观海洋科技开发有限公司 (the farm's
    operator, a member); the 厚壳贻贝 longline farm off 枸杞乡 registered under a shellfish
    methodology at 330922; its 2024 sediment and RDOC carbon measured by the oracle nodes from
    the farm's harvest lots and sediment cores uploaded through the API, verified and issued."""
    api.admit("shengsi_procuratorate", "嵊泗县人民检察院 Shengsi County Procuratorate",
              "authority")
    api.admit("shanhai", "嵊泗山海奇观海洋科技开发有限公司 Shengsi Shanhai Qiguan Marine Tech")
    mid = methodology(api, "ZJ-BIVALVE-RDOC-V01",
                      "贝类养殖惰性有机碳汇核算方法学 Bivalve farming recalcitrant carbon",
                      SinkCategory.SHELLFISH, MARICULTURE_BUFFER_BPS)
    pid = project(api, "shanhai", mid, "嵊泗枸杞乡厚壳贻贝养殖区 Gouqi mussel farm",
                  Site(330922, "30.720", "122.770", 6_667_000), *crediting())
    # the sediment under the longlines and its recalcitrant fraction, from the cores (the
    # seed's 沉积惰性有机碳汇); shells are not credited
    farm = farm_for_target("shellfish", SHENGSI_TARGET_UNITS, cores=True,
                           components=["sediment", "rdoc"])
    period = measured_report(api, "shanhai", pid, farm, state_dir)
    batch = verify_and_issue(api, period["report_id"], farm.quantity_units)
    return {"batch": batch["batch_id"], "issued": batch["issued_units"],
            "buffer": batch["buffer_units"]}


def test_shengsi_the_procuratorate_buys_500_t_of_mussel_sediment_carbon_with_50000_yuan(
        api: CaseApi, tmp_path: Path) -> None:
    # The 500 t come out of the oracle pipeline: the farm's files go in through PUT spec and
    # PUT files, oracle1 and oracle2 compute the report from the inbox and attest it.
    world = shengsi_world(api, tmp_path / "nodes")
    bid = world["batch"]
    # the oracle computes 892.752881 t from the farm's lots and eight cores (the calculator's
    # arithmetic is worked by hand in tests/oracle); buffer ⌈892,752,881 × 10 %⌉ = 89,275,289;
    # the operator receives 892,752,881 − 89,275,289 = 803,477,592 units
    assert (world["issued"], world["buffer"]) == (892_752_881, 89_275_289)
    assert api.credits("shanhai", bid) == 803_477_592

    # the procuratorate registers a CNY order it pays itself from the compensation funds; the
    # liable party is named but holds no account
    order = api.post("/v1/compensation/orders", "shengsi_procuratorate", {
        "case_number": SHENGSI_CASE, "required_cny": "50000.00", "categories": ["shellfish"],
        "regions": ["330922"], "deadline": api.chain_time() + 180 * DAY, "parties": [],
        "party_names": ["嵊泗海域生态环境损害赔偿义务人（未入盟）"], "authority_pays": True,
        "document_hash": h(SHENGSI_CASE)}, status=201)["order"]
    assert (order["unit"], order["required"], order["required_units"], order["status"]) == (
        "cny", "50000.00", SHENGSI_FUNDS_FEN, "open")
    assert order["authority"] == api.address("shengsi_procuratorate")

    # the bank books the 50,000 yuan paid into the procuratorate's account
    deposit(api, "shengsi_procuratorate", SHENGSI_FUNDS_FEN, "嵊泗 生态环境损害赔偿金 50,000 元")
    offer = api.post(f"/v1/compensation/orders/{order['id']}/offers", "shanhai", {
        "batch_id": bid, "amount": "500", "price_fen_per_tonne": SHENGSI_PRICE_FEN_PER_TONNE,
        "expiry": api.chain_time() + 30 * DAY}, status=201)["offer"]
    assert (offer["remaining"], offer["status"]) == ("500", "open")

    # paid ⌈500,000,000 × 10,000 / 10⁶⌉ = 5,000,000 fen; counted ⌊the same⌋ = 5,000,000 fen
    assert api.credits("shengsi_procuratorate", bid) == 0
    taken = api.post(f"/v1/compensation/offers/{offer['id']}/take", "shengsi_procuratorate",
                     {"amount": "500"}, status=201)
    assert (taken["paid"], taken["paid_fen"], taken["value"], taken["amount"]) == (
        "50000.00", 5_000_000, "50000.00", "500")
    assert taken["order_fulfilled"] is True
    final = api.get(f"/v1/compensation/orders/{order['id']}")
    assert (final["status"], final["fulfilled"], final["remaining"], final["retired"]) == (
        "fulfilled", "50000.00", "0.00", "500")

    # the tonnes went from the operator's account straight into retirement
    procuratorate = api.address("shengsi_procuratorate")
    assert credit_moves(api, taken["tx_hash"]) == [
        (api.address("shanhai"), ZERO_ADDRESS, 500 * TONNE)]
    record = api.get(f"/v1/retirements/{taken['retirement_id']}")
    assert (record["holder"], record["amount"], record["case_reference"]) == (
        procuratorate, "500", SHENGSI_CASE)
    assert (taken["serial_start"], taken["serial_end"]) == (1, 500_000_000)

    # final balances — cash: procuratorate 5,000,000 − 5,000,000 = 0 fen, operator
    # 0 + 5,000,000 fen; credits: operator 803,477,592 − 500,000,000 = 303,477,592 units,
    # procuratorate 0 (before, during and after)
    assert (api.cash("shengsi_procuratorate"), api.cash("shanhai")) == (0, 5_000_000)
    assert (api.credits("shengsi_procuratorate", bid), api.credits("shanhai", bid)) == (
        0, 303_477_592)
    batch = api.ledger.batch(bid)
    assert (batch.issued, batch.buffer, batch.retired) == (
        892_752_881, 89_275_289, 500_000_000)


# -- Lianjiang (连江), Fujian 350122, 2025-04-11 -----------------------------------------------

LIANJIANG_CASE = "融检民公〔2025〕2号"
PARTIES = ("party_a", "party_b", "party_c")
SHARE = "108.8"  # each party's third of 326.4 t


def lianjiang_world(api: CaseApi, state_dir: Path) -> dict[str, Any]:
    """福清市人民检察院 (an authority, 350181), the three liable parties (members) and the kelp
    farm's operator in 连江 (350122); the farm's 2024 harvest measured by the oracle nodes
    (sediment burial and RDOC of the harvested kelp), verified and issued; the parties buy
    108.8 t each from the farm (the sale over 福州（连江）碳汇交易服务平台 is paid off the
    registry; the registry delivers the tonnes)."""
    api.admit("fuqing_procuratorate", "福清市人民检察院 Fuqing Procuratorate", "authority")
    api.admit("lianjiang_farm", "连江县海带养殖合作社 Lianjiang kelp farming cooperative")
    for i, party in enumerate(PARTIES):
        api.admit(party, f"福清生态环境损害案当事人{'甲乙丙'[i]} Fuqing case party {'ABC'[i]}")
    mid = methodology(api, "FJ-MACROALGAE-SED-RDOC-V01",
                      "大型藻类养殖沉积物碳汇和惰性有机碳汇 Macroalgae sediment and RDOC carbon",
                      SinkCategory.MACROALGAE, MARICULTURE_BUFFER_BPS)
    pid = project(api, "lianjiang_farm", mid, "连江海带筏式养殖区 Lianjiang kelp raft farm",
                  Site(350122, "26.330", "119.900", 1_800_000), *crediting())
    # enough measured that, after the 10 % buffer, the farm holds the 326.4 t it sells
    farm = farm_for_target("kelp", gross_for_net(LIANJIANG_TARGET_UNITS, MARICULTURE_BUFFER_BPS))
    period = measured_report(api, "lianjiang_farm", pid, farm, state_dir)
    batch = verify_and_issue(api, period["report_id"], farm.quantity_units)
    bid = int(batch["batch_id"])
    for party in PARTIES:
        transfer(api, "lianjiang_farm", party, bid, SHARE)
    return {"batch": bid, "issued": batch["issued_units"], "buffer": batch["buffer_units"],
            "methodology": mid}


def lianjiang_order(api: CaseApi) -> dict[str, Any]:
    """The Fuqing procuratorate's order: 326.4 t of macroalgae carbon from the three parties.
    The damage was done in 福清 (350181), the farm lies in 连江 (350122): the order admits
    macroalgae carbon from anywhere in Fujian (35), substitute restoration across counties."""
    order: dict[str, Any] = api.post("/v1/compensation/orders", "fuqing_procuratorate", {
        "case_number": LIANJIANG_CASE, "required_tonnes": "326.4", "categories": ["macroalgae"],
        "regions": ["35"], "deadline": api.chain_time() + 90 * DAY,
        "parties": [api.address(p) for p in PARTIES],
        "party_names": ["福清生态环境损害案当事人甲", "福清生态环境损害案当事人乙",
                        "福清生态环境损害案当事人丙"],
        "document_hash": h(LIANJIANG_CASE)}, status=201)["order"]
    assert (order["unit"], order["required_units"], order["regions"]) == (
        "tonnes", 326_400_000, ["35"])
    return order


def guangxi_mangrove(api: CaseApi, holder: str) -> int:
    """A Guangxi mangrove batch (茅尾海, 450702) of 100 t, attested as a quantity; 5 t of it
    sold to `holder`."""
    mid = methodology(api, "CCER-14-002-V01", "红树林营造 Mangrove vegetation restoration",
                      SinkCategory.MANGROVE, 1_000)
    start, end = crediting()
    pid = project(api, "developer", mid, "广西钦州茅尾海红树林修复项目 Maowei Sea mangroves",
                  Site(450702, "21.783", "108.562", 2_533_000), start, end)
    rid = attested_report(api, pid, FARM_PERIOD.start, FARM_PERIOD.end, "100", "maowei")
    bid = int(verify_and_issue(api, rid, 100 * TONNE)["batch_id"])
    transfer(api, "developer", holder, bid, "5")
    return bid


def test_lianjiang_three_parties_retire_326_4_t_of_kelp_carbon_across_counties(
        api: CaseApi, tmp_path: Path) -> None:
    world = lianjiang_world(api, tmp_path / "nodes")
    kelp = world["batch"]
    # measured 362.666767 t (the target 326.4 t ÷ 0.9, rounded up to 362,666,667 units, and
    # the lots' kilogram rounding); buffer ⌈36,266,676.7⌉ = 36,266,677; the farm received
    # 326,400,090 units and sold 3 × 108,800,000, keeping 90
    assert (world["issued"], world["buffer"]) == (362_666_767, 36_266_677)
    assert api.credits("lianjiang_farm", kelp) == 90
    mangrove = guangxi_mangrove(api, "party_a")

    order = lianjiang_order(api)
    path = f"/v1/compensation/orders/{order['id']}/retirements"

    first = api.post(path, "party_a", {"batch_id": kelp, "amount": SHARE}, status=201)
    assert (first["order"]["status"], first["order"]["fulfilled"]) == ("partly_fulfilled",
                                                                       "108.8")
    # a Guangxi mangrove credit does not restore Fujian's sea: refused, nothing retired
    assert api.error("POST", path, "party_a", {"batch_id": mangrove, "amount": "1"}, 409) == (
        "chain_ineligible_category")
    second = api.post(path, "party_b", {"batch_id": kelp, "amount": SHARE}, status=201)
    assert second["order"]["fulfilled"] == "217.6"
    third = api.post(path, "party_c", {"batch_id": kelp, "amount": SHARE}, status=201)
    # 108.8 + 108.8 + 108.8 = 326.4 t exactly
    assert (third["order"]["status"], third["order"]["fulfilled"], third["order_fulfilled"]) == (
        "fulfilled", "326.4", True)
    assert third["order"]["retired_units"] == 326_400_000
    # a fourth retirement is refused: the order is fulfilled (the contract judges the order's
    # status before the credit offered, so this is the reason whatever the credit)
    assert api.error("POST", path, "party_a", {"batch_id": mangrove, "amount": "1"}, 409) == (
        "chain_order_not_open")

    # each party's certificate cites the case
    for r in (first, second, third):
        record = api.get(f"/v1/retirements/{r['retirement_id']}")
        assert (record["amount"], record["case_reference"]) == (SHARE, LIANJIANG_CASE)
    # final balances — kelp: farm 90 units, each party 108,800,000 − 108,800,000 = 0;
    # mangrove: party A still 5,000,000 (neither refusal retired any), the developer
    # 90,000,000 − 5,000,000 = 85,000,000; no cash moved on the registry (0 fen each)
    assert [api.credits(p, kelp) for p in PARTIES] == [0, 0, 0]
    assert api.credits("lianjiang_farm", kelp) == 90
    assert (api.credits("party_a", mangrove), api.credits("developer", mangrove)) == (
        5_000_000, 85_000_000)
    assert [api.cash(p) for p in (*PARTIES, "lianjiang_farm", "fuqing_procuratorate")] == [0] * 5
    batch = api.ledger.batch(kelp)
    assert (batch.issued, batch.buffer, batch.retired) == (362_666_767, 36_266_677, 326_400_000)
    assert api.ledger.batch(mangrove).retired == 0


def test_lianjiang_kelp_carbon_from_outside_fujian_does_not_count(
        api: CaseApi, tmp_path: Path) -> None:
    world = lianjiang_world(api, tmp_path / "nodes")
    order = lianjiang_order(api)
    # the same methodology's kelp, farmed off 荣成, Shandong (371082)
    api.admit("rongcheng", "荣成海带养殖企业 Rongcheng kelp farm")
    pid = project(api, "rongcheng", world["methodology"], "荣成海带养殖区 Rongcheng kelp farm",
                  Site(371082, "37.160", "122.490", 1_000_000), *crediting())
    rid = attested_report(api, pid, FARM_PERIOD.start, FARM_PERIOD.end, "50", "rongcheng")
    shandong = int(verify_and_issue(api, rid, 50 * TONNE)["batch_id"])
    transfer(api, "rongcheng", "party_a", shandong, "5")

    path = f"/v1/compensation/orders/{order['id']}/retirements"
    assert api.error("POST", path, "party_a", {"batch_id": shandong, "amount": "5"}, 409) \
        == "chain_ineligible_region"
    # nothing moved or counted: party A still holds its 5 t of Shandong kelp and its 108.8 t
    # of Lianjiang kelp; the order is untouched
    assert (api.credits("party_a", shandong), api.credits("party_a", world["batch"])) == (
        5_000_000, 108_800_000)
    after = api.get(f"/v1/compensation/orders/{order['id']}")
    assert (after["status"], after["fulfilled_units"]) == ("open", 0)
    # the Fujian kelp counts
    api.post(path, "party_a", {"batch_id": world["batch"], "amount": SHARE}, status=201)
    assert api.get(f"/v1/compensation/orders/{order['id']}")["fulfilled"] == SHARE


# -- Xiamen (厦门), 2025-05-26: Ningxia (64) soil-and-water conservation carbon ------------------

XIAMEN_CASE = "厦农（水）罚〔2025〕3号"
PENGYANG_ISSUED = 2_000 * TONNE  # the Pengyang project's attested 2024 quantity (illustrative)
XIAMEN_PRICE = 6_000  # fen per tonne (60 yuan/t; the seed gives no price)
INSTRUMENT = 6404  # the Pengyang batch's spot instrument
MAKER_BPS, TAKER_BPS = 10, 20


def xiamen_world(api: CaseApi) -> dict[str, Any]:
    """厦门市农业农村局 (the enforcement agency: an authority), the offender (a member) and
    the Pengyang project's owner in 宁夏彭阳 (640423); a soil-and-water conservation
    methodology (no shipped calculator measures it: two oracle nodes attest the quantity),
    the report verified and issued. The consortium's exchange stands for 厦门产权交易中心,
    through which the offender bought under a commission agreement."""
    api.admit("xiamen_bureau", "厦门市农业农村局 Xiamen Agriculture and Rural Affairs Bureau",
              "authority")
    api.admit("offender", "水土保持案违法行为人 Soil-conservation case offender")
    api.admit("pengyang", "宁夏彭阳县水土保持工作站 Pengyang Soil and Water Conservation Station")
    mid = methodology(api, "NX-SWC-CARBON-V01",
                      "水土保持碳汇计量与监测方法学 Soil and water conservation carbon",
                      SinkCategory.SOIL_WATER_CONSERVATION, 1_000)
    start, end = crediting()
    pid = project(api, "pengyang", mid, "宁夏彭阳水土保持碳汇项目 Pengyang soil conservation",
                  Site(640423, "35.850", "106.640", 20_000_000), start, end)
    rid = attested_report(api, pid, FARM_PERIOD.start, FARM_PERIOD.end, "2000", "pengyang")
    batch = verify_and_issue(api, rid, PENGYANG_ISSUED)
    return {"batch": int(batch["batch_id"]), "buffer": batch["buffer_units"]}


def test_xiamen_an_offender_buys_483_88_t_of_ningxia_carbon_retired_on_purchase(
        api: CaseApi, tmp_path: Path) -> None:
    world = xiamen_world(api)
    bid = world["batch"]
    # 2,000 t issued, 10 % = 200 t to the buffer: the owner holds 1,800 t
    assert (world["buffer"], api.credits("pengyang", bid)) == (200 * TONNE, 1_800 * TONNE)
    order = api.post("/v1/compensation/orders", "xiamen_bureau", {
        "case_number": XIAMEN_CASE, "required_tonnes": "483.88",
        "categories": ["soil_water_conservation"], "regions": ["64"],
        "deadline": api.chain_time() + 60 * DAY, "parties": [api.address("offender")],
        "party_names": ["水土保持案违法行为人"], "document_hash": h(XIAMEN_CASE)},
        status=201)["order"]
    deposit(api, "offender", 3_000_000, "厦门 水土保持案 认购碳汇价款 30,000 元")
    fees_before = api.cash("exchange")

    with exchange_api(api, tmp_path / "exchange", "exchange", MAKER_BPS, TAKER_BPS) as (x, ex):
        x.post("/v1/exchange/instruments", "exchange", {
            "instrument": INSTRUMENT, "batch_id": bid, "tick": 100, "lot": 10_000,
            "reference_price": XIAMEN_PRICE}, status=201)  # lots of 0.01 t, ticks of 1 yuan
        for who in ("pengyang", "offender"):
            x.post("/v1/exchange/approvals", who, {}, status=201)
        expiry = x.chain_time() + 86_400
        sell = x.post("/v1/exchange/orders", "pengyang", {"order": {
            "side": "sell", "instrument": INSTRUMENT, "price": XIAMEN_PRICE,
            "quantity": 1_000 * TONNE, "expiry": expiry}}, status=201)
        assert sell["status"] == "open"
        # the buy names the order: what it buys is retired for it on delivery
        buy = x.post("/v1/exchange/orders", "offender", {"order": {
            "side": "buy", "instrument": INSTRUMENT, "price": XIAMEN_PRICE,
            "quantity": 483_880_000, "expiry": expiry, "retire_for": order["id"]}},
            status=201)
        assert buy["status"] == "filled"
        # matched is not counted: the order counts what settles on chain
        assert api.get(f"/v1/compensation/orders/{order['id']}")["status"] == "open"
        assert ex.worker.run_once() == 1
        settled = x.read(f"/v1/exchange/orders/{buy['order_id']}", "offender")
        [trade] = settled["trades"]
        assert (trade["settlement"], trade["quantity"], trade["price"]) == (
            "settled", 483_880_000, XIAMEN_PRICE)

    final = api.get(f"/v1/compensation/orders/{order['id']}")
    assert (final["status"], final["fulfilled"], final["retired"]) == (
        "fulfilled", "483.88", "483.88")
    # the settlement burnt the owner's tonnes into the offender's retirement, citing the case:
    # no credit reached the offender, so none could be resold
    assert credit_moves(api, trade["tx_hash"]) == [
        (api.address("pengyang"), ZERO_ADDRESS, 483_880_000)]
    [retired] = retirements_in(api, trade["tx_hash"])
    record = api.get(f"/v1/retirements/{retired}")
    assert (record["holder"], record["amount"], record["case_reference"]) == (
        api.address("offender"), "483.88", XIAMEN_CASE)
    # value 483.88 t × 6,000 fen/t = 2,903,280 fen; the offender (taker) pays it plus
    # ⌊2,903,280 × 20 / 10,000⌋ = 5,806 fen; the owner (maker) receives it less
    # ⌊2,903,280 × 10 / 10,000⌋ = 2,903 fen; the exchange's fee account 5,806 + 2,903 = 8,709
    assert api.cash("offender") == 3_000_000 - 2_903_280 - 5_806 == 90_914
    assert api.cash("pengyang") == 2_903_280 - 2_903 == 2_900_377
    assert api.cash("exchange") - fees_before == 5_806 + 2_903 == 8_709
    # credits: the owner 1,800 t − 483.88 t = 1,316.12 t; the offender never held any
    assert api.credits("pengyang", bid) == 1_316_120_000
    assert api.credits("offender", bid) == 0
    batch = api.ledger.batch(bid)
    assert (batch.issued, batch.buffer, batch.retired) == (
        PENGYANG_ISSUED, 200 * TONNE, 483_880_000)

