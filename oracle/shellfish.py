"""Farmed bivalves (贝类: mussel 贻贝, oyster 牡蛎): the shellfish sink category — carbon fixed in
shells, farming sediment carbon from biodeposits, and its recalcitrant share.

The calculator a monitoring spec selects with `"calculator": "shellfish"`:

    shell    = Σ lots  fresh weight × shell % × shell C % × (1 − ψ)
    sediment = area × (core burial rate − background) × years        from cores under the farm
    rdoc     = sediment × rdoc share                                  (0 unless the spec sets it)

each × 44/12 and less its deduction; the nets are added and floored to whole units (1 g CO2e),
so the result never credits more than was measured (oracle.mariculture).

Shell carbon follows the shell part of HY/T 0305-2021 养殖大型藻类和双壳贝类碳汇计量方法
碳储量变化法 (shell mass × shell carbon content): shell mass is the lot's fresh weight
× its shell share, weighed on a subsample of the lot (a required field; there is no default:
shell shares range from under 40 % in mussels to over 70 % in oysters). Shell carbon content
defaults to 12.0 %, the carbon mass fraction of CaCO3 (12.011 / 100.087); a lot's lab value
replaces it. Precipitating CaCO3 releases CO2 from seawater: ψ ≈ 0.6 mol CO2 per mol CaCO3 in
present-day surface seawater (Frankignoulle, Canon & Gattuso 1994, Limnology and Oceanography
39:458–462), and ψ rises as seawater pCO2 rises. Shell carbon is therefore credited net of
ψ — a spec may raise ψ (to 1.0, i.e. crediting no shell carbon, the position of reviews that
count calcification as a CO2 source) but not lower it. Soft-tissue carbon is eaten and is
never credited.

Sediment carbon is what the seeds' Shengsi case sold (嵊泗厚壳贻贝养殖沉积惰性有机碳汇, 500 t):
organic carbon from the farm's faeces and pseudofaeces buried in the sediment beneath it,
measured as for coastal wetlands (oracle.sediment: accumulation rate × dry bulk density × TOC at
dated horizons, sections of a core averaged so that only carbon that stays buried counts) —
the site-specific Tier 2/3 approach of the IPCC 2013 Wetlands Supplement. A spec may subtract
the rate measured at reference cores outside the farm (`background_burial_t_c_per_ha_yr`). There
is no published default burial rate for bivalve farms: without cores the component is zero.

Water-column RDOC formed by the microbial carbon pump from the farm's dissolved releases (Jiao et
al. 2010, Nature Reviews Microbiology 8:593–599) has no published per-farm factor for bivalves;
`rdoc_share_of_sediment_percent` defaults to 0 and a spec may set it (up to 100 % of the
sediment component) from a farm study. The shell deduction is the 90 % confidence half-width of
the lots' shell carbon contents (at least 20 % with fewer than two lots); the sediment and RDOC
deduction is the cores' spread; the spec's minimum deduction applies to all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from oracle.canonical import SHELLFISH_SCHEMA, canonical_json, decimal_text
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

CACO3_CARBON_PERCENT = Decimal("12.0")  # 12.011 g C in 100.087 g CaCO3
FEW_LOTS_MINIMUM_DEDUCTION = Decimal(20)

SPECIES: dict[str, str] = {
    "mussel": "贻贝 Mytilus spp. (e.g. 厚壳贻贝 M. coruscus, Shengsi)",
    "oyster": "牡蛎 Crassostrea / Magallana spp.",
}

SHELLFISH_FACTORS: dict[str, Factor] = {
    "calcification_release_ratio": Factor(
        Decimal("0.6"), Decimal("0.6"), Decimal(1), "mol CO2/mol CaCO3",
        "Frankignoulle, Canon & Gattuso 1994, Limnol. Oceanogr. 39:458-462 (psi ~0.6 in "
        "present-day seawater); a spec may only raise it"),
    "background_burial_t_c_per_ha_yr": Factor(
        Decimal(0), Decimal(0), Decimal(10), "t C/ha/yr",
        "reference cores outside the farm (site data), subtracted from farm cores"),
    "rdoc_share_of_sediment_percent": Factor(
        Decimal(0), Decimal(0), HUNDRED, "% of sediment carbon",
        "no published per-farm factor for bivalves; set from a farm study"),
}
SHELLFISH_COMPONENTS = ("shell", "sediment", "rdoc")


@dataclass(frozen=True)
class ShellfishHarvest:
    """One harvested lot: total fresh weight at the quay, the shell share of it weighed on a
    subsample, and, when analysed, the shells' carbon percent (else CaCO3's 12.0 %)."""

    lot_id: str
    harvested: str  # YYYY-MM-DD
    species: str
    fresh_weight_t: Decimal
    shell_percent: Decimal
    shell_carbon_percent: Decimal | None = None

    def carbon_percent_fresh(self) -> Decimal:
        """Shell carbon as a percentage of the lot's fresh weight."""
        c = CACO3_CARBON_PERCENT if self.shell_carbon_percent is None else (
            self.shell_carbon_percent)
        with localcontext(calc_context()):
            return self.shell_percent * c / HUNDRED

    def canonical(self) -> bytes:
        data: dict[str, object] = {
            "schema": SHELLFISH_SCHEMA,
            "lot_id": self.lot_id,
            "harvested": self.harvested,
            "species": self.species,
            "fresh_weight_t": self.fresh_weight_t,
            "shell_percent": self.shell_percent,
        }
        if self.shell_carbon_percent is not None:
            data["shell_carbon_percent"] = self.shell_carbon_percent
        return canonical_json(data)


def shellfish_removals(
    harvests: Sequence[ShellfishHarvest],
    *,
    years: Decimal,
    area_ha: Decimal,
    cores: Sequence[SedimentCore] | None = None,
    factors: Mapping[str, Decimal] | None = None,
    components: Sequence[str] | None = None,
    minimum_deduction_percent: Decimal = Decimal(0),
) -> Quantity:
    """A bivalve farm's shell, sediment and RDOC carbon over `years`, in on-chain units."""
    if not harvests:
        raise ValueError("no harvest lots")
    if any(h.fresh_weight_t < 0 for h in harvests):
        raise ValueError("fresh weight cannot be negative")
    if area_ha < 0 or years <= 0:
        raise ValueError("area must be non-negative and years positive")
    unknown = sorted({h.species for h in harvests} - set(SPECIES))
    if unknown:
        raise ValueError(f"no parameters for species {unknown[0]!r}")
    chosen = check_components(components, SHELLFISH_COMPONENTS, SHELLFISH_COMPONENTS)
    overrides = dict(factors or {})
    f = resolve_factors(SHELLFISH_FACTORS, overrides)
    psi = f["calcification_release_ratio"]
    contents = [h.carbon_percent_fresh() for h in harvests]
    with localcontext(calc_context()):
        shell_c = sum(
            (h.fresh_weight_t * c / HUNDRED for h, c in zip(harvests, contents, strict=True)),
            Decimal(0),
        )
        net_shell_c = shell_c * (1 - psi)
    if len(harvests) >= 2:
        shell_deduction = deduction_percent(contents, minimum_deduction_percent)
        spread = f"{uncertainty_percent(contents):.4f}"
    else:
        shell_deduction = max(minimum_deduction_percent, FEW_LOTS_MINIMUM_DEDUCTION)
        spread = "n/a (fewer than two lots)"
    params: dict[str, str] = {
        "method": "shellfish farm: shell = fresh weight × shell % × shell C % × (1 − psi); "
                  "sediment = area × core burial rate × years; rdoc = sediment × share; × 44/12",
        "components": ",".join(chosen),
        "lots": str(len(harvests)),
        "species": ",".join(sorted({h.species for h in harvests})),
        "fresh_weight_t": decimal_text(sum((h.fresh_weight_t for h in harvests), Decimal(0))),
        "shell_carbon_t": f"{shell_c:.6f}",
        "shell_carbon_net_of_calcification_t": f"{net_shell_c:.6f}",
        "default_shell_carbon_percent": f"{CACO3_CARBON_PERCENT} (CaCO3 stoichiometry)",
        "shell_sampling_uncertainty_percent": spread,
        "area_ha": decimal_text(area_ha),
        "years": decimal_text(years),
        **factor_parameters(SHELLFISH_FACTORS, f, overrides),
    }
    parts: list[Component] = []
    if "shell" in chosen:
        parts.append(Component("shell", c_to_co2(net_shell_c), shell_deduction))
    sediment: Component | None = None
    if cores:
        burial = core_burial(cores, f["background_burial_t_c_per_ha_yr"],
                             minimum_deduction_percent)
        sediment = sediment_from_cores(burial, area_ha, years)
        params.update(
            sediment_source=f"site cores (n={burial.cores}), mean burial rate less background",
            sediment_rate_t_c_per_ha_yr=f"{burial.rate_t_c_per_ha_yr:.6f}",
            sediment_sampling_uncertainty_percent=f"{burial.spread_percent:.4f}",
        )
    else:
        params["sediment_source"] = "no cores: not measured, not credited"
    if "sediment" in chosen:
        parts.append(sediment or Component("sediment", Decimal(0), Decimal(0)))
    if "rdoc" in chosen:
        share = f["rdoc_share_of_sediment_percent"]
        if sediment is None:
            parts.append(Component("rdoc", Decimal(0), Decimal(0)))
        else:
            with localcontext(calc_context()):
                rdoc = sediment.gross_t_co2e * share / HUNDRED
            parts.append(Component("rdoc", rdoc, sediment.deduction_percent))
    return combine(parts, params)
