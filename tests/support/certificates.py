"""A retirement to certify, for the certificate and verification page tests (no tests here).

The Lianjiang case as scenario data (DESIGN.md): a batch issued on the real chain by the
scenario builders, then retired through the API by its developer for a procuratorate's case.
"""

from __future__ import annotations

from api.fulfilment import FulfilmentCertificate, FulfilmentRetirement
from devkit.scenario import Scenario
from tests.support.api import Api

CASE = "福清检民公〔2025〕11号"
BENEFICIARY = "连江县海洋生态环境损害替代性修复 Lianjiang marine substitute restoration"
HOLDER_NAME = "钦州茅尾海红树林合作社 Maowei Sea Mangrove Cooperative"  # the developer's seat


def retire_for_case(api: Api, amount: str = "326.4", beneficiary: str = BENEFICIARY,
                    case_reference: str = CASE) -> int:
    """A new batch, and `amount` of it retired by the developer for the case; the retirement id."""
    batch = Scenario(api.ledger, api.acc).batch()
    r = api.post("/v1/retirements", "developer", {
        "batch_id": batch.batch_id, "amount": amount, "beneficiary": beneficiary,
        "purpose": "ecological_compensation", "case_reference": case_reference,
    }, status=201)
    return int(r["retirement_id"])


def lianjiang_fulfilment() -> FulfilmentCertificate:
    """The Lianjiang case as a fulfilment certificate's context (made up ids and hashes): three
    liable parties, 326.4 t of macroalgae carbon bought in two retirements."""
    tx = "0x" + "ab" * 32
    return FulfilmentCertificate(
        order_id=3, case_number=CASE, authority="0x" + "11" * 20,
        authority_name="福清市人民检察院 Fuqing Procuratorate",
        party_names=["连江某水产养殖有限公司", "林某某", "陈某某"],
        unit="tonnes", required=326_400_000, fulfilled=326_400_000, status="fulfilled",
        document_hash="0x" + "cd" * 32, chain_id=31337, contract="0x" + "22" * 20,
        fulfilled_at=1_744_329_600,
        retirements=[
            FulfilmentRetirement(
                retirement_id=7, holder="0x" + "33" * 20, holder_name="连江某水产养殖有限公司",
                batch_id=4, amount_units=200_000_000, serial_start=1, project_id=2,
                project_name="连江县大型海藻养殖碳汇 Lianjiang macroalgae carbon",
                division_code=350122, tx_hash=tx, counted=200_000_000),
            FulfilmentRetirement(
                retirement_id=8, holder="0x" + "44" * 20, holder_name="林某某",
                batch_id=4, amount_units=126_400_000, serial_start=200_000_001, project_id=2,
                project_name="连江县大型海藻养殖碳汇 Lianjiang macroalgae carbon",
                division_code=350122, tx_hash=tx, counted=126_400_000),
        ],
    )
