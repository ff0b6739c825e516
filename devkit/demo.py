"""The scripted end-to-end demo: a Guangxi mangrove project in Qinzhou's Maowei Sea, from
methodology to a verifiable ecological-compensation retirement, driven through the HTTP API
exactly as members would use it."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak

from core.units import format_units
from devkit import sample_data
from devkit.roster import dev_accounts
from oracle.node import NodeState, OracleNode
from registry.ledger import Ledger

YEAR_2024 = (1_704_038_400, 1_735_660_800)  # 2024-01-01 .. 2025-01-01 (UTC+8 midnight)
AREA_HA = Decimal("253.3")
READING_DAYS = 1  # a day of the buoys' signed readings stands for the year's


def doc_hash(text: str) -> str:
    return "0x" + keccak(text=text).hex()


@dataclass
class Step:
    name: str
    detail: str
    tx_hash: str | None = None


@dataclass
class DemoResult:
    steps: list[Step] = field(default_factory=list)
    batch_id: int = 0
    retirement_ids: list[int] = field(default_factory=list)
    certificate_url: str = ""
    verify_url: str = ""
    fulfilment_url: str = ""
    verified: bool = False
    balances: dict[str, str] = field(default_factory=dict)
    issued: str = ""
    buffer: str = ""


class DemoError(RuntimeError):
    pass


def oracle_pass(inbox: Path, state_dir: Path, ledger: Ledger,
                seats: tuple[str, ...] = ("oracle1", "oracle2")) -> Callable[[int], list[str]]:
    """One pass of the development oracle nodes over a project, as `tanhui oracle attest
    --node <seat> --project <id>` would run it: each node builds the report from the inbox
    itself and attests it on chain with its own key and state."""
    accounts = dev_accounts()

    def attest(project_id: int) -> list[str]:
        attested = []
        for seat in seats:
            node = OracleNode(seat, accounts[seat], ledger, inbox,
                              NodeState(state_dir / f"{seat}.db"))
            for o in node.run_project(project_id):
                if o.status == "failed":
                    raise DemoError(f"oracle node {seat}: {o.subject}: {o.detail}")
                if o.status == "attested":
                    attested.append(seat)
        return attested

    return attest


class Demo:
    """Runs the scenario against a live API with the seats' API keys."""

    STEPS = 23

    def __init__(
        self,
        base_url: str,
        keys: Mapping[str, str],
        addresses: Mapping[str, str],
        attest: Callable[[int], list[str]],
        on_step: Callable[[Step], None] | None = None,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.attest = attest  # one pass of the oracle nodes over a project: who attested
        self.keys = keys
        self.addresses = addresses
        self.on_step = on_step or (lambda s: None)
        self.result = DemoResult()

    def call(self, seat: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.keys[seat]}"}
        )
        if r.status_code >= 400:
            raise DemoError(f"{method} {path} as {seat}: {r.status_code} {r.text}")
        return r.json()

    def step(self, name: str, detail: str, resp: Any = None) -> None:
        tx = resp.get("tx_hash") if isinstance(resp, dict) else None
        s = Step(name, detail, tx)
        self.result.steps.append(s)
        self.on_step(s)

    def run(self) -> DemoResult:
        code = f"CCER-14-002-V01-{int(time.time())}"
        m = self.call(
            "operator",
            "POST",
            "/v1/methodologies",
            {
                "code": code,
                "name": "红树林营造 Mangrove vegetation restoration",
                "document_hash": doc_hash("CCER-14-002-V01 methodology text"),
                "parameters_hash": doc_hash("IPCC 2013 Wetlands Supplement ch.4 defaults"),
                "buffer_bps": 1000,
                "category": "mangrove",
            },
        )
        self.step("Methodology registered", f"{code}, buffer 10%", m)
        mid = m["methodology_id"]
        self.step(
            "Methodology approved",
            "by the regulator",
            self.call("regulator", "POST", f"/v1/methodologies/{mid}/approve", {}),
        )

        p = self.call(
            "developer",
            "POST",
            "/v1/projects",
            {
                "name": "广西钦州茅尾海红树林修复项目 Maowei Sea Mangrove Restoration, Qinzhou",
                "methodology_id": mid,
                "division_code": 450702,
                "latitude": "21.783000",
                "longitude": "108.562000",
                "area_m2": int(AREA_HA * 10_000),
                "boundary_hash": doc_hash("Maowei Sea boundary polygon v3"),
                "crediting_start": 1_672_502_400,
                "crediting_end": 2_303_654_400,
                "document_hash": doc_hash("Maowei Sea project design document"),
            },
        )
        pid = p["project_id"]
        self.step("Project registered", f"#{pid}, 253.3 ha, 钦南区 450702", p)
        self.step(
            "Project validated",
            "by the verifier",
            self.call(
                "verifier",
                "POST",
                f"/v1/projects/{pid}/validate",
                {"validation_report_hash": doc_hash("validation report MW")},
            ),
        )
        self.step(
            "Project approved",
            "by the regulator",
            self.call("regulator", "POST", f"/v1/projects/{pid}/approve", {}),
        )

        rid, quantity_units = self.monitor(pid)
        verified = format_units(quantity_units - quantity_units % 1_000_000)
        self.step(
            "Report verified",
            f"{verified} t by the verifier",
            self.call(
                "verifier",
                "POST",
                f"/v1/reports/{rid}/verify",
                {
                    "verified_quantity": verified,
                    "verification_hash": doc_hash("verification MW 2024"),
                },
            ),
        )

        b = self.call("operator", "POST", "/v1/batches", {"report_id": rid})
        bid = self.result.batch_id = b["batch_id"]
        self.step("Batch issued", f"#{bid}", b)

        t1 = self.call(
            "developer",
            "POST",
            "/v1/transfers",
            {"to": self.addresses["trader1"], "batch_id": bid, "amount": "500"},
        )
        self.step("Transfer", "500 t → 北港新材料 Beigang New Materials", t1)
        t2 = self.call(
            "developer",
            "POST",
            "/v1/transfers",
            {"to": self.addresses["trader2"], "batch_id": bid, "amount": "483.88"},
        )
        self.step("Transfer", "483.88 t → 南宁绿色发展基金 Nanning Green Fund", t2)
        self.trade(bid)

        order = self.call(
            "procuratorate",
            "POST",
            "/v1/compensation/orders",
            {
                "case_number": "钦检民公〔2025〕7号",
                "required_tonnes": "326.4",
                "categories": ["mangrove", "seagrass", "salt_marsh"],
                "regions": ["45"],
                "deadline": int(time.time()) + 365 * 86_400,
                "parties": [self.addresses["trader1"]],
                "party_names": ["广西北港新材料有限公司 Beigang New Materials Co."],
                "document_hash": doc_hash("钦检民公〔2025〕7号 检察建议书"),
            },
        )["order"]
        self.step("Compensation order registered",
                  f"#{order['id']} {order['case_number']}: 326.4 t of Guangxi blue carbon",
                  order)
        r1 = self.call(
            "trader1",
            "POST",
            f"/v1/compensation/orders/{order['id']}/retirements",
            {
                "batch_id": bid,
                "amount": "326.4",
                "beneficiary": "钦州市人民检察院 生态环境损害替代性修复 "
                "Qinzhou Procuratorate substitute restoration",
            },
        )
        self.result.retirement_ids.append(r1["retirement_id"])
        self.step(
            "Retired for the order (ecological compensation)",
            f"326.4 t, serials {r1['serial_start']}–{r1['serial_end']}; "
            f"order {r1['order']['status']}",
            r1,
        )
        self.result.fulfilment_url = r1["order"].get("certificate_url", "")
        r2 = self.call(
            "trader2",
            "POST",
            "/v1/retirements",
            {
                "batch_id": bid,
                "amount": "100",
                "beneficiary": "南宁绿色发展基金 2024 operations",
                "purpose": "voluntary",
                "case_reference": "",
            },
        )
        self.result.retirement_ids.append(r2["retirement_id"])
        self.step(
            "Retired (voluntary)", f"100 t, serials {r2['serial_start']}–{r2['serial_end']}", r2
        )

        self.result.certificate_url = r1.get("certificate_url", "")
        self.result.verify_url = r1.get("verify_url", "")
        cert = self.http.get(f"/v1/retirements/{r1['retirement_id']}/certificate")
        if cert.status_code != 200 or "326.4" not in cert.text:
            raise DemoError(f"certificate not served: {cert.status_code}")
        v = self.http.get(f"/v1/retirements/{r1['retirement_id']}/verify").json()
        self.result.verified = bool(v.get("valid"))
        self.step(
            "Certificate verified against the chain", "valid" if v.get("valid") else "INVALID"
        )
        return self.result

    def monitor(self, project_id: int) -> tuple[int, int]:
        """A year of monitoring the way a deployment does it: the developer sets the monitoring
        spec and its devices and uploads the year's data files (signed buoy readings, satellite
        scenes, sediment-core lab samples); every record is validated on upload; then the oracle
        nodes, each computing the report from the inbox on its own, attest it on chain."""
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp)
            sample_data.write(raw, days=READING_DAYS)
            devices = json.loads((raw / "devices.json").read_text())["devices"]
            spec = self.call("developer", "PUT", f"/v1/oracle/projects/{project_id}/spec", {
                "code": sample_data.MANGROVE_PROJECT, "calculator": "blue_carbon",
                "area_ha": str(AREA_HA), "ecosystem": "mangrove", "land_class": "mangrove",
                "minimum_deduction_percent": "10", "devices": devices})
            self.step("Monitoring spec set", f"blue carbon (mangrove), {spec['devices']} "
                      "registered devices")
            period = f"{YEAR_2024[0]}/{YEAR_2024[1]}"
            counts = []
            for name, src in (("readings.csv", "readings.csv"), ("scenes.json", "scenes.json"),
                              ("lab-samples.csv", "cores.csv")):
                r = self.upload(project_id, period, name, (raw / src).read_bytes())
                counts.append(f"{r['kind']} {r['accepted']}/{r['total']}")
            self.step("Monitoring data validated", ", ".join(counts) + " accepted")
        for node in self.attest(project_id):
            self.step(f"Report attested by {node}", "computed from the inbox on its own")
        report = self.call("developer", "GET", f"/v1/oracle/projects/{project_id}/periods/"
                           f"{period}?limit=1")
        if report["report_status"] != "attested":
            raise DemoError(f"the oracle nodes did not attest the report: {report}")
        return int(report["report_id"]), int(report["quantity_units"])

    def upload(self, project_id: int, period: str, name: str, content: bytes) -> Any:
        r = self.http.put(f"/v1/oracle/projects/{project_id}/periods/{period}/files/{name}",
                          content=content,
                          headers={"Authorization": f"Bearer {self.keys['developer']}"})
        if r.status_code >= 400:
            raise DemoError(f"upload {name}: {r.status_code} {r.text}")
        return r.json()

    def trade(self, bid: int) -> None:
        """The batch on the exchange: the bank books a buyer's cash, both sides approve DvP
        settlement, the exchange lists the batch, two members' custodial orders cross and the
        trade settles on chain (credits one way, cash the other, in one transaction)."""
        listed = self.http.get("/v1/exchange/instruments")
        if listed.status_code == 503:  # an API started without the exchange
            self.step("Exchange", "not running in this API: trading skipped")
            return
        instrument = max((int(i["instrument"]) for i in listed.json()), default=0) + 1
        dep = self.call("bank", "POST", "/v1/exchange/cash/deposits", {
            "account": self.addresses["trader3"], "amount_fen": 500_000_00,
            "reference": f"BBG-DEMO-{time.time_ns()}"})
        self.step("Cash deposited", "500,000.00 CNY → 钦州港务集团 Qinzhou Port Group", dep)
        for seat in ("trader1", "trader3"):
            a = self.call(seat, "POST", "/v1/exchange/approvals")
        self.step("Settlement approved", "北港新材料 and 钦州港务 approve DvP settlement",
                  {"tx_hash": a["tx_hashes"][0]})
        self.call("exchange", "POST", "/v1/exchange/instruments", {
            "instrument": instrument, "batch_id": bid, "tick": 1, "lot": 1_000_000,
            "reference_price": 8_000})
        self.step("Listed", f"instrument {instrument}: batch #{bid}, reference 80.00 CNY/t "
                  "±10 %")

        def order(side: str) -> dict[str, Any]:
            # custodial: the server signs with the member's key, filling in the next nonce,
            # the exchange's fee as the fee cap and, for the sell, the batch it delivers
            return {"order": {"side": side, "instrument": instrument, "price": 8_200,
                              "quantity": 50_000_000, "expiry": int(time.time()) + 3_600}}

        self.call("trader1", "POST", "/v1/exchange/orders", order("sell"))
        self.step("Sell order", "50 t at 82.00 CNY/t, 北港新材料 (custodial key)")
        buy = self.call("trader3", "POST", "/v1/exchange/orders", order("buy"))
        if buy["status"] != "filled":
            raise DemoError(f"the buy did not fill: {buy}")
        [t] = buy["trades"]
        self.step("Matched", f"trade #{t['trade_id']}: 50 t × 82.00 = 4,100.00 CNY")
        deadline = time.monotonic() + 60
        while t["settlement"] != "settled":
            if t["settlement"] == "failed" or time.monotonic() > deadline:
                raise DemoError(f"trade not settled: {t}")
            time.sleep(0.3)
            t = self.call("trader3", "GET", f"/v1/exchange/orders/{buy['order_id']}")[
                "trades"][0]
        self.step("Settled on chain", "50 t → 钦州港务, 4,100.00 CNY less fees → 北港新材料 "
                  "(one transaction)", t)

    def collect(self, result: DemoResult) -> DemoResult:
        """Reads the indexed outcome (after the index has caught up)."""
        bid = result.batch_id
        batch = self.http.get(f"/v1/batches/{bid}")
        if batch.status_code == 200:
            data = batch.json()
            result.issued = str(data.get("issued", ""))
            result.buffer = str(data.get("buffer", ""))
        for seat in ("developer", "trader1", "trader2", "trader3"):
            bal = self.http.get(f"/v1/accounts/{self.addresses[seat]}/balances")
            if bal.status_code == 200:
                rows = bal.json()
                items = rows.get("items", rows) if isinstance(rows, dict) else rows
                held = sum(
                    int(x.get("amount_units", 0)) for x in items if int(x.get("batch_id", 0)) == bid
                )
                result.balances[seat] = format_units(held)
        return result
