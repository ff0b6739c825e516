"""A retirement to certify, for the certificate and verification page tests (no tests here).

The Lianjiang case as scenario data (DESIGN.md): a batch issued on the real chain by the
scenario builders, then retired through the API by its developer for a procuratorate's case.
"""

from __future__ import annotations

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
