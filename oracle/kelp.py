"""Cultured kelp (海带, Saccharina japonica): carbon removed from the water in harvested biomass.

    removal (t CO2e) = Σ harvested fresh weight (t) × carbon content (% of fresh weight) / 100
                       × 44/12 × (1 − deduction)

the removable-carbon ("可移出碳汇") approach of HY/T 0305-2021 养殖大型藻类和双壳贝类碳汇计量方法
碳储量变化法, also taken by Fujian's DB35/T 2238-2024 养殖海带碳汇评估技术规程 (seed 001).

Carbon content per lot comes from lab analysis (dry-matter fraction × carbon fraction of dry
matter); the uncertainty deduction is the 90 % confidence half-width of the lots' carbon
contents (oracle.quantities). A lot without its own analysis takes the default 3.0 % of fresh
weight — the Sanggou Bay enclosure study in seed 001 (2.0 kg fresh-weight growth ≈ 60 g
biomass carbon) — and then the whole harvest carries a minimum 20 % deduction, because a
literature value says nothing about this farm's kelp. Dissolved and recalcitrant organic carbon
released while growing (RDOC, the other half of the study's finding) is not credited: it is not
measured per farm, and leaving it out can only under-state the sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from oracle.canonical import KELP_SCHEMA, canonical_json, decimal_text
from oracle.quantities import (
    HUNDRED,
    Quantity,
    c_to_co2,
    calc_context,
    deduction_percent,
    uncertainty_percent,
)

DEFAULT_CARBON_PERCENT_FRESH = Decimal("3.0")
DEFAULT_CONTENT_MINIMUM_DEDUCTION = Decimal(20)


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


def kelp_removals(
    harvests: Sequence[KelpHarvest], *, minimum_deduction_percent: Decimal = Decimal(0)
) -> Quantity:
    """Carbon removed in harvested kelp, in on-chain units."""
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
        gross = c_to_co2(carbon)
    floor = minimum_deduction_percent
    if not all(h.analysed for h in harvests):
        floor = max(floor, DEFAULT_CONTENT_MINIMUM_DEDUCTION)
    analysed = [c for h, c in zip(harvests, contents, strict=True) if h.analysed]
    if len(analysed) >= 2:
        deduction = deduction_percent(analysed, floor)
        spread = f"{uncertainty_percent(analysed):.4f}"
    else:
        deduction = max(floor, DEFAULT_CONTENT_MINIMUM_DEDUCTION)
        spread = "n/a (fewer than two analysed lots)"
    params = {
        "method": "harvested fresh weight × carbon content × 44/12",
        "lots": str(len(harvests)),
        "analysed_lots": str(len(analysed)),
        "fresh_weight_t": decimal_text(sum((h.fresh_weight_t for h in harvests), Decimal(0))),
        "carbon_t": f"{carbon:.6f}",
        "default_carbon_percent_fresh": f"{DEFAULT_CARBON_PERCENT_FRESH} (seed 001, Sanggou Bay)",
        "sampling_uncertainty_percent": spread,
        "deduction_percent": f"{deduction:.4f}",
    }
    return Quantity.of(gross, deduction, params)
