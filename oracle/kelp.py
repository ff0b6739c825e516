"""Cultured kelp (海带, Saccharina japonica): the macroalgae sink category — harvested biomass
carbon, sediment burial and recalcitrant dissolved organic carbon (RDOC).

Two calculators live here.

`kelp_removals` is the removable-carbon ("可移出碳汇") approach of HY/T 0305-2021 养殖大型藻类和
双壳贝类碳汇计量方法 碳储量变化法, also taken by Fujian's DB35/T 2238-2024 养殖海带碳汇评估技术规程
(seed 001):

    removal (t CO2e) = Σ harvested fresh weight (t) × carbon content (% of fresh weight) / 100
                       × 44/12 × (1 − deduction)

`kelp_farm_removals` is the calculator a monitoring spec selects (`"calculator": "kelp"`). It
starts from the same harvested carbon C_h and credits the pools that stay out of the atmosphere
— what the Lianjiang product of seed 001 sold ("沉积物碳汇和惰性有机碳汇", 326.4 t):

    NPP      = C_h / (1 − doc_share)                 carbon fixed over the culture cycle
    RDOC     = NPP × doc_share × rdoc_share          DOC released while growing that microbes
                                                     turn recalcitrant (microbial carbon pump)
    sediment = NPP × burial_share                    without cores under the farm, or
             = area × (core burial rate − background) × years        with them (oracle.sediment)
    harvest  = C_h                                   only if the spec lists "harvest"

each × 44/12 and less its deduction. Components: `sediment` and `rdoc` by default; a spec may
list `"components": ["harvest", "sediment", "rdoc"]` to add the removable carbon of HY/T 0305
(harvested kelp is eaten or processed within months, so by default it is not credited as a sink).

NPP is taken as harvested carbon plus exuded DOC only: carbon lost as eroded particles (POC) is
left out, which under-states NPP and so every share of it. Factor defaults (`KELP_FACTORS`) are
the low end of published ranges; a spec may override each within its bounds:

- doc_share_of_npp_percent 23.7 (bounds 0–39.1): Gao et al. 2021, Aquaculture Environment
  Interactions 13:101–110 — DOC is 23.7–39.1 % of NPP of cultured S. japonica in Sanggou Bay.
- rdoc_share_of_doc_percent 37.8 (bounds 0–48): Gao et al. 2021 — 37.8 % of kelp DOC remained
  after 150 days of bacterial degradation; upper bound from Feng, Li, Zhang et al. 2025, 中国科学:
  地球科学 55(5):1474–1483 (seed 001): the RDOC share of released DOC rises from 24 % to 48 % from
  seedling to maturity. The mechanism is the microbial carbon pump (Jiao et al. 2010, Nature
  Reviews Microbiology 8:593–599). Cross-check: Feng et al. put one plant's RDOC (52.7 g C) near
  its biomass carbon (60 g C); the defaults give RDOC ≈ 0.117 × C_h, far on the safe side.
- burial_share_of_npp_percent 1.0 (bounds 0–11): Krause-Jensen & Duarte 2016, Nature Geoscience
  9:737–742 — about 11 % of macroalgal NPP is sequestered, roughly a tenth of that by burial in
  coastal sediments (≈ 1.1 % of NPP, rounded down); 11 % bounds all sequestration.
- background_burial_t_c_per_ha_yr 0 (bounds 0–10): burial measured at reference cores outside
  the farm, subtracted from the farm cores' rate (used only with cores).

Carbon content per lot comes from lab analysis (dry-matter fraction × carbon fraction of dry
matter); the deduction of the harvest-based components is the 90 % confidence half-width of the
lots' carbon contents (oracle.quantities). A lot without its own analysis takes the default
3.0 % of fresh weight — the Sanggou Bay enclosure study in seed 001 (2.0 kg fresh-weight growth ≈
60 g biomass carbon) — and then the whole harvest carries a minimum 20 % deduction, because a
literature value says nothing about this farm's kelp. Core-based sediment carries the spread of
its cores instead (oracle.mariculture). The result is floored to whole units: never more than
measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from oracle.canonical import KELP_SCHEMA, canonical_json, decimal_text
from oracle.mariculture import (
    Component,
    Factor,
    check_components,
    combine,
    core_burial,
    factor_parameters,
    resolve_factors,
    sediment_from_cores,
)
from oracle.quantities import (
    HUNDRED,
    Quantity,
    c_to_co2,
    calc_context,
    deduction_percent,
    uncertainty_percent,
)
from oracle.sediment import SedimentCore

DEFAULT_CARBON_PERCENT_FRESH = Decimal("3.0")
DEFAULT_CONTENT_MINIMUM_DEDUCTION = Decimal(20)

_GAO_2021 = "Gao et al. 2021, Aquacult. Environ. Interact. 13:101-110, Sanggou Bay S. japonica"
KELP_FACTORS: dict[str, Factor] = {
    "doc_share_of_npp_percent": Factor(
        Decimal("23.7"), Decimal(0), Decimal("39.1"), "% of NPP",
        f"{_GAO_2021}: DOC 23.7-39.1 % of NPP, low end"),
    "rdoc_share_of_doc_percent": Factor(
        Decimal("37.8"), Decimal(0), Decimal(48), "% of DOC",
        f"{_GAO_2021}: 37.8 % of DOC left after 150 d; bound: Feng et al. 2025, "
        "Sci. Sin. Terrae 55(5):1474-1483 (seed 001), 24-48 %; microbial carbon pump, "
        "Jiao et al. 2010, Nat. Rev. Microbiol. 8:593"),
    "burial_share_of_npp_percent": Factor(
        Decimal("1.0"), Decimal(0), Decimal(11), "% of NPP",
        "Krause-Jensen & Duarte 2016, Nat. Geosci. 9:737-742: ~11 % of macroalgal NPP "
        "sequestered, ~1/10 of it buried in coastal sediments"),
    "background_burial_t_c_per_ha_yr": Factor(
        Decimal(0), Decimal(0), Decimal(10), "t C/ha/yr",
        "reference cores outside the farm (site data), subtracted from farm cores"),
}
KELP_COMPONENTS = ("harvest", "sediment", "rdoc")
DEFAULT_KELP_COMPONENTS = ("sediment", "rdoc")


@dataclass(frozen=True)
class KelpHarvest:
    """One harvested lot: fresh (wet) weight at the weighbridge and, when analysed, its
    dry-matter percent and carbon percent of dry matter."""

    lot_id: str
    harvested: str  # YYYY-MM-DD
    fresh_weight_t: Decimal
    dry_matter_percent: Decimal | None = None
    carbon_percent_dry: Decimal | None = None

    @property
    def analysed(self) -> bool:
        return self.dry_matter_percent is not None and self.carbon_percent_dry is not None

    def carbon_percent_fresh(self) -> Decimal:
        if self.dry_matter_percent is None or self.carbon_percent_dry is None:
            return DEFAULT_CARBON_PERCENT_FRESH
        with localcontext(calc_context()):
            return self.dry_matter_percent * self.carbon_percent_dry / HUNDRED

    def canonical(self) -> bytes:
        data: dict[str, object] = {
            "schema": KELP_SCHEMA,
            "lot_id": self.lot_id,
            "harvested": self.harvested,
            "fresh_weight_t": self.fresh_weight_t,
        }
        if self.analysed:
            data["dry_matter_percent"] = self.dry_matter_percent
            data["carbon_percent_dry"] = self.carbon_percent_dry
        return canonical_json(data)


def _content_deduction(harvests: Sequence[KelpHarvest], contents: Sequence[Decimal],
                       minimum: Decimal) -> tuple[Decimal, str, int]:
    """The deduction of harvest-based quantities, the sampling spread it rests on, and the number
    of analysed lots: the lots' carbon contents' 90 % CI half-width, at least `minimum`, and at
    least 20 % when any lot took the default content or fewer than two lots were analysed."""
    floor = minimum
    if not all(h.analysed for h in harvests):
        floor = max(floor, DEFAULT_CONTENT_MINIMUM_DEDUCTION)
    analysed = [c for h, c in zip(harvests, contents, strict=True) if h.analysed]
    if len(analysed) >= 2:
        return (deduction_percent(analysed, floor), f"{uncertainty_percent(analysed):.4f}",
                len(analysed))
    return (max(floor, DEFAULT_CONTENT_MINIMUM_DEDUCTION), "n/a (fewer than two analysed lots)",
            len(analysed))


def _harvested_carbon(harvests: Sequence[KelpHarvest]) -> tuple[list[Decimal], Decimal]:
    if not harvests:
        raise ValueError("no harvest lots")
    if any(h.fresh_weight_t < 0 for h in harvests):
        raise ValueError("fresh weight cannot be negative")
    contents = [h.carbon_percent_fresh() for h in harvests]
    with localcontext(calc_context()):
        carbon = sum(
            (h.fresh_weight_t * c / HUNDRED for h, c in zip(harvests, contents, strict=True)),
            Decimal(0),
        )
    return contents, carbon


def kelp_removals(
    harvests: Sequence[KelpHarvest], *, minimum_deduction_percent: Decimal = Decimal(0)
) -> Quantity:
    """Carbon removed in harvested kelp (HY/T 0305-2021 removable carbon), in on-chain units."""
    contents, carbon = _harvested_carbon(harvests)
    gross = c_to_co2(carbon)
    deduction, spread, analysed = _content_deduction(harvests, contents,
                                                     minimum_deduction_percent)
    params = {
        "method": "harvested fresh weight × carbon content × 44/12",
        "lots": str(len(harvests)),
        "analysed_lots": str(analysed),
        "fresh_weight_t": decimal_text(sum((h.fresh_weight_t for h in harvests), Decimal(0))),
        "carbon_t": f"{carbon:.6f}",
        "default_carbon_percent_fresh": f"{DEFAULT_CARBON_PERCENT_FRESH} (seed 001, Sanggou Bay)",
        "sampling_uncertainty_percent": spread,
        "deduction_percent": f"{deduction:.4f}",
    }
    return Quantity.of(gross, deduction, params)


def kelp_farm_removals(
    harvests: Sequence[KelpHarvest],
    *,
    years: Decimal,
    area_ha: Decimal,
    cores: Sequence[SedimentCore] | None = None,
    factors: Mapping[str, Decimal] | None = None,
    components: Sequence[str] | None = None,
    minimum_deduction_percent: Decimal = Decimal(0),
) -> Quantity:
    """A kelp farm's sediment and RDOC carbon (and harvested carbon if asked) over a period of
    `years`, in on-chain units (see the module docstring for the formulas and sources)."""
    if area_ha < 0 or years <= 0:
        raise ValueError("area must be non-negative and years positive")
    chosen = check_components(components, KELP_COMPONENTS, DEFAULT_KELP_COMPONENTS)
    overrides = dict(factors or {})
    f = resolve_factors(KELP_FACTORS, overrides)
    contents, carbon = _harvested_carbon(harvests)
    deduction, spread, analysed = _content_deduction(harvests, contents,
                                                     minimum_deduction_percent)
    doc = f["doc_share_of_npp_percent"]
    with localcontext(calc_context()):
        npp = carbon * HUNDRED / (HUNDRED - doc)
        rdoc_c = npp * doc * f["rdoc_share_of_doc_percent"] / (HUNDRED * HUNDRED)
        burial_c = npp * f["burial_share_of_npp_percent"] / HUNDRED
    params: dict[str, str] = {
        "method": "kelp farm: NPP = C_h / (1 − DOC share); RDOC = NPP × DOC share × RDOC share; "
                  "sediment = NPP × burial share, or area × core burial rate × years; × 44/12",
        "components": ",".join(chosen),
        "lots": str(len(harvests)),
        "analysed_lots": str(analysed),
        "fresh_weight_t": decimal_text(sum((h.fresh_weight_t for h in harvests), Decimal(0))),
        "harvest_carbon_t": f"{carbon:.6f}",
        "npp_carbon_t": f"{npp:.6f}",
        "default_carbon_percent_fresh": f"{DEFAULT_CARBON_PERCENT_FRESH} (seed 001, Sanggou Bay)",
        "sampling_uncertainty_percent": spread,
        "area_ha": decimal_text(area_ha),
        "years": decimal_text(years),
        **factor_parameters(KELP_FACTORS, f, overrides),
    }
    parts: list[Component] = []
    if "harvest" in chosen:
        parts.append(Component("harvest", c_to_co2(carbon), deduction))
    if "sediment" in chosen:
        if cores:
            burial = core_burial(cores, f["background_burial_t_c_per_ha_yr"],
                                 minimum_deduction_percent)
            parts.append(sediment_from_cores(burial, area_ha, years))
            params.update(
                sediment_source=f"site cores (n={burial.cores}), mean burial rate less background",
                sediment_rate_t_c_per_ha_yr=f"{burial.rate_t_c_per_ha_yr:.6f}",
                sediment_sampling_uncertainty_percent=f"{burial.spread_percent:.4f}",
            )
        else:
            parts.append(Component("sediment", c_to_co2(burial_c), deduction))
            params.update(sediment_source="burial share of NPP (no cores)",
                          sediment_carbon_t=f"{burial_c:.6f}")
    if "rdoc" in chosen:
        parts.append(Component("rdoc", c_to_co2(rdoc_c), deduction))
        params["rdoc_carbon_t"] = f"{rdoc_c:.6f}"
    return combine(parts, params)
