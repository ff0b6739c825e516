"""Sediment cores: the lab-sample view used by blue-carbon accounting.

Organic carbon burial at a dated horizon of a core is

    accumulation rate (cm/yr) × dry bulk density (g/cm³) × TOC (%) / 100   [g C / cm² / yr]

and 1 g C/cm²/yr = 10⁸ g C/ha/yr = 100 t C/ha/yr. A core analysed at several depths gets the
mean over its sections: deeper sections have lost their labile carbon, so averaging them in
credits the carbon that actually stays buried rather than the fresh surface litter.

oracle.blue_carbon turns the per-core rates into removals (their mean, and a deduction for
their spread); this module knows nothing of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from oracle.canonical import LAB_SCHEMA, canonical_json
from oracle.quantities import calc_context

if TYPE_CHECKING:
    pass

G_PER_CM2_TO_T_PER_HA = Decimal(100)


@dataclass(frozen=True)
class SedimentCore:
    """One analysed core section: accumulation rate cm/yr, dry bulk density g/cm³, TOC percent.

    Values are decimal strings as the lab reports them. `sampled` (YYYY-MM-DD) is optional for
    callers that have no date; when present, `canonical()` equals the LabSample record's bytes.
    """

    core_id: str
    depth_cm: int
    accumulation_cm_per_yr: str
    bulk_density_g_cm3: str
    toc_percent: str
    sampled: str = ""

    def canonical(self) -> bytes:
        data: dict[str, object] = {
            "schema": LAB_SCHEMA,
            "core_id": self.core_id,
            "depth_cm": self.depth_cm,
            "toc_percent": Decimal(self.toc_percent),
            "bulk_density_g_cm3": Decimal(self.bulk_density_g_cm3),
            "accumulation_cm_per_yr": Decimal(self.accumulation_cm_per_yr),
        }
        if self.sampled:
            data["sampled"] = self.sampled
        return canonical_json(data)

    def burial_t_c_per_ha_yr(self) -> Decimal:
        """Organic carbon burial at this horizon, t C/ha/yr (exact)."""
        with localcontext(calc_context()):
            g_per_cm2 = (
                Decimal(self.accumulation_cm_per_yr)
                * Decimal(self.bulk_density_g_cm3)
                * Decimal(self.toc_percent)
                / 100
            )
            return g_per_cm2 * G_PER_CM2_TO_T_PER_HA


def burial_by_core(sections: Sequence[SedimentCore]) -> dict[str, Decimal]:
    """Mean burial rate (t C/ha/yr) per core id over its analysed sections."""
    by_core: dict[str, list[Decimal]] = {}
    for s in sections:
        by_core.setdefault(s.core_id, []).append(s.burial_t_c_per_ha_yr())
    with localcontext(calc_context()):
        return {k: sum(v, Decimal(0)) / len(v) for k, v in sorted(by_core.items())}
