"""What the mariculture calculators (oracle.kelp, oracle.shellfish) share: overridable factors
with published bounds, the sediment-core component, and summing components into one Quantity.

A farm's sink is a sum of components (harvested or shell carbon, sediment burial, RDOC), each
with its own evidence and so its own conservativeness deduction. Each component is reduced by
its own deduction and the nets are added; the sum is floored once into on-chain units. Adding
nets (rather than applying one blended deduction) keeps the result monotone in every input:
more harvest never credits less. The report states the effective deduction 1 − net/gross,
rounded up to 0.0001 %, for reading only; the parameters give every component's own figures.

A literature factor is a default, never a measurement: a monitoring spec may override it
(`"factors": {name: value}` in project.json) only within the factor's published bounds, and the
report names the value used and whether it came from the spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from oracle.canonical import decimal_text
from oracle.quantities import (
    DEDUCTION_STEP,
    HUNDRED,
    Quantity,
    c_to_co2,
    calc_context,
    deduction_percent,
    floor_units,
    mean,
    uncertainty_percent,
)
from oracle.sediment import SedimentCore, burial_by_core

MIN_CORES = 2
GRAM = Decimal("0.000001")  # of a tonne: how finely the report states a component's net


@dataclass(frozen=True)
class Factor:
    """A methodology factor: the default used when the spec gives none, the closed range a spec
    may choose from, its unit, and where the numbers come from."""

    default: Decimal
    low: Decimal
    high: Decimal
    unit: str
    source: str


class FactorError(ValueError):
    """A spec names a factor the calculator does not have, or sets one outside its bounds."""


def resolve_factors(table: Mapping[str, Factor], overrides: Mapping[str, Decimal]
                    ) -> dict[str, Decimal]:
    """The value of every factor: the spec's override where given (checked against the bounds),
    the default otherwise."""
    unknown = sorted(set(overrides) - set(table))
    if unknown:
        raise FactorError(f"unknown factor {unknown[0]!r} (known: {', '.join(sorted(table))})")
    values: dict[str, Decimal] = {}
    for name, f in table.items():
        v = overrides.get(name, f.default)
        if not f.low <= v <= f.high:
            raise FactorError(f"factor {name} = {decimal_text(v)} {f.unit} is outside "
                              f"[{decimal_text(f.low)}, {decimal_text(f.high)}]")
        values[name] = v
    return values


def factor_parameters(table: Mapping[str, Factor], values: Mapping[str, Decimal],
                      overrides: Mapping[str, Decimal]) -> dict[str, str]:
    """Report lines `factor.<name>`: value, unit, whether from the spec, bounds and source."""
    out = {}
    for name, f in table.items():
        origin = "spec" if name in overrides else "default"
        out[f"factor.{name}"] = (
            f"{decimal_text(values[name])} {f.unit} ({origin}; default {decimal_text(f.default)}, "
            f"bounds [{decimal_text(f.low)}, {decimal_text(f.high)}]; {f.source})"
        )
    return out


def check_components(requested: Sequence[str] | None, allowed: Sequence[str],
                     default: Sequence[str]) -> tuple[str, ...]:
    """The components to credit, in the calculator's order; refuses unknown or repeated names."""
    if requested is None:
        return tuple(default)
    if not requested:
        raise FactorError("components must name at least one component")
    if len(set(requested)) != len(requested):
        raise FactorError("components are named once each")
    bad = [c for c in requested if c not in allowed]
    if bad:
        raise FactorError(f"unknown component {bad[0]!r} (known: {', '.join(allowed)})")
    return tuple(c for c in allowed if c in requested)


@dataclass(frozen=True)
class Component:
    """One credited pool: gross t CO2e and the deduction that applies to it."""

    name: str
    gross_t_co2e: Decimal
    deduction_percent: Decimal

    @property
    def net_t_co2e(self) -> Decimal:
        with localcontext(calc_context()):
            return self.gross_t_co2e * (HUNDRED - self.deduction_percent) / HUNDRED


def combine(components: Sequence[Component], parameters: Mapping[str, str]) -> Quantity:
    """One Quantity from the components: nets summed, floored once into units."""
    with localcontext(calc_context()):
        gross = sum((c.gross_t_co2e for c in components), Decimal(0))
        net = sum((c.net_t_co2e for c in components), Decimal(0))
        if gross > 0:
            effective = (HUNDRED - net * HUNDRED / gross).quantize(DEDUCTION_STEP,
                                                                  rounding=ROUND_CEILING)
        else:
            effective = Decimal(0)
    params = dict(parameters)
    for c in components:
        params[f"{c.name}.gross_t_co2e"] = f"{c.gross_t_co2e:.6f}"
        params[f"{c.name}.deduction_percent"] = f"{c.deduction_percent:.4f}"
        params[f"{c.name}.net_t_co2e"] = str(c.net_t_co2e.quantize(GRAM, rounding=ROUND_FLOOR))
    params["deduction_percent"] = f"{effective:.4f} (effective: 1 − Σ net / Σ gross)"
    return Quantity(floor_units(net), gross, effective, net, params)


@dataclass(frozen=True)
class CoreBurial:
    """Site burial rate under the farm from its dated cores, net of the background rate."""

    rate_t_c_per_ha_yr: Decimal
    deduction_percent: Decimal
    cores: int
    spread_percent: Decimal


def core_burial(cores: Sequence[SedimentCore], background_t_c_per_ha_yr: Decimal,
                minimum_deduction_percent: Decimal) -> CoreBurial:
    """Mean per-core burial rate (oracle.sediment) less the background rate that would be buried
    without the farm; the deduction comes from the spread of the per-core rates."""
    rates = list(burial_by_core(cores).values())
    if len(rates) < MIN_CORES:
        raise ValueError("at least two sediment cores are needed to estimate the burial rate")
    with localcontext(calc_context()):
        rate = max(Decimal(0), mean(rates) - background_t_c_per_ha_yr)
    return CoreBurial(rate, deduction_percent(rates, minimum_deduction_percent), len(rates),
                      uncertainty_percent(rates))


def sediment_from_cores(burial: CoreBurial, area_ha: Decimal, years: Decimal) -> Component:
    with localcontext(calc_context()):
        gross = c_to_co2(area_ha * burial.rate_t_c_per_ha_yr * years)
    return Component("sediment", gross, burial.deduction_percent)
