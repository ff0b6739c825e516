"""The Sanming world (三明, Fujian) built through the HTTP API, as its members build it (this
module holds no tests): the city's forestry bureau holds the forestry role, five village
collectives register their forest parcels with their forest-right certificates, the oracle nodes
measure each parcel's carbon-stock increment from its 2019 and 2024 plot inventories, a verifier
signs the increment in whole tonnes, and the bureau issues one ticket per parcel.

Parcel names, certificate numbers and the split of the 29,715 t between the five parcels are
illustrative; the total, the pledge (18,294 t for a 5 million yuan credit line), the sale
(2,723 t at 15 yuan/t) and the retail purchase (0.5 t) are the case's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from core.units import format_units
from devkit.forest_parcels import FOREST_PERIOD, forest_for_target
from registry.categories import SinkCategory
from tests.support.seed_cases import CaseApi, h, measured_report, methodology

TONNE = 1_000_000
YEAR = 365 * 86_400


@dataclass(frozen=True)
class Parcel:
    """A village collective's forest parcel: who owns it, where, its certificate, its tonnes."""

    owner: str  # the handle the test admits it under
    name: str
    division_code: int
    latitude: str
    longitude: str
    certificate: str
    tonnes: int
    seed: int  # of its plot inventories


PARCELS = (
    Parcel("changkou", "将乐县高唐镇常口村股份经济合作社 Changkou village, Jiangle", 350428,
           "26.728", "117.471", "闽(2019)将乐县不动产权第0004521号", 8_214, 1),
    Parcel("yubang", "沙县区夏茂镇俞邦村股份经济合作联合社 Yubang village, Shaxian", 350405,
           "26.505", "117.612", "闽(2019)沙县不动产权第0011378号", 6_523, 2),
    Parcel("hongtian", "永安市洪田镇洪田村股份经济合作社 Hongtian village, Yong'an", 350481,
           "25.872", "117.285", "闽(2019)永安市不动产权第0007702号", 5_870, 3),
    Parcel("ziyun", "明溪县夏阳乡紫云村股份经济合作社 Ziyun village, Mingxi", 350421,
           "26.297", "117.116", "闽(2019)明溪县不动产权第0002916号", 4_988, 4),
    Parcel("houlou", "尤溪县洋中镇后楼村股份经济合作社 Houlou village, Youxi", 350426,
           "26.252", "118.226", "闽(2019)尤溪县不动产权第0013064号", 4_120, 5),
)


@dataclass(frozen=True)
class Ticketed:
    parcel: Parcel
    project_id: int
    report_id: int
    ticket_id: int
    slot: int
    attested_units: int


def forest_project(api: CaseApi, parcel: Parcel, methodology_id: int, area_m2: int) -> int:
    """The collective registers its parcel and declares its forest-right certificate; the
    verifier validates both and the regulator approves."""
    p = api.post("/v1/projects", parcel.owner, {
        "name": f"{parcel.name} 林业碳票项目", "methodology_id": methodology_id,
        "division_code": parcel.division_code, "latitude": parcel.latitude,
        "longitude": parcel.longitude, "area_m2": area_m2,
        "boundary_hash": h(f"boundary {parcel.certificate}"),
        "crediting_start": FOREST_PERIOD.start, "crediting_end": FOREST_PERIOD.start + 30 * YEAR,
        "document_hash": h(f"pdd {parcel.name}")}, status=201)
    pid = int(p["project_id"])
    api.post(f"/v1/projects/{pid}/parcels", parcel.owner,
             {"rights_certificates": [parcel.certificate]})
    api.post(f"/v1/projects/{pid}/validate", "verifier",
             {"validation_report_hash": h(f"validation {parcel.name}")})
    api.post(f"/v1/projects/{pid}/approve", "regulator", {})
    return pid


def ticketed_parcel(api: CaseApi, parcel: Parcel, methodology_id: int,
                    state_dir: Path) -> Ticketed:
    """The parcel's increment measured by two oracle nodes from its plots, verified in whole
    tonnes (at or below what was attested) and ticketed by the forestry bureau."""
    farm = forest_for_target(parcel.tonnes * TONNE, seed=parcel.seed,
                             code=f"FJ-SM-FT-{parcel.seed}")
    area_m2 = int((Decimal(farm.spec["area_ha"]) * 10_000).quantize(Decimal(1), ROUND_HALF_UP))
    pid = forest_project(api, parcel, methodology_id, area_m2)
    period = measured_report(api, parcel.owner, pid, farm, state_dir)
    rid = int(period["report_id"])
    api.post(f"/v1/reports/{rid}/verify", "verifier", {
        "verified_quantity": format_units(parcel.tonnes * TONNE),
        "verification_hash": h(f"verification {parcel.name}")})
    t = api.post("/v1/tickets", "forestry_bureau",
                 {"report_id": rid, "rights_certificate": parcel.certificate}, status=201)
    assert (t["owner"], t["value_units"]) == (api.address(parcel.owner), parcel.tonnes * TONNE)
    return Ticketed(parcel, pid, rid, int(t["id"]), int(t["slot"]), farm.quantity_units)


def sanming_world(api: CaseApi, state_dir: Path) -> list[Ticketed]:
    """The bureau (forestry role), the five collectives, the ticket methodology, five tickets."""
    api.admit("forestry_bureau", "三明市林业局 Sanming Forestry Bureau", "forestry")
    for parcel in PARCELS:
        api.admit(parcel.owner, parcel.name)
    mid = methodology(api, "FJ-SM-LYTP-V01",
                      "三明林业碳票碳减排量计量方法 Sanming forest carbon ticket method",
                      SinkCategory.FOREST, 0)
    return [ticketed_parcel(api, p, mid, state_dir / p.owner) for p in PARCELS]
