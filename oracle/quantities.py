"""What every methodology calculator shares: exact arithmetic, the CO2/C ratio, the uncertainty
deduction and rounding into on-chain units.

Arithmetic is Decimal at 50 significant digits — never float — so every oracle node computes
the same integer. The final tonnes are floored to whole units (1 unit = 1 g CO2e, 1 t =
1,000,000 units): rounding always favours the atmosphere, never the credit holder.

Conservativeness deduction: a sampled quantity (plots, cores, harvest lots) is credited at the
lower bound of the two-sided 90 % confidence interval of its mean, i.e. reduced by the relative
half-width  u = t(0.95, n−1) · s / (√n · |mean|).  This is the precision target of the Chinese
forestry carbon methodologies (90 % confidence, ±10 % allowable error: AR-CM-001-V01 碳汇造林
项目方法学; LY/T 2253-2014 造林项目碳汇计量监测指南) turned into a deduction instead of a pass/fail,
and the "lower confidence bound" principle of the CDM tool AR-TOOL14. A methodology may set a
minimum deduction on top (for model or default-factor uncertainty); the larger of the two applies.
Student-t critical values are tabulated (one-sided 0.95); between tabulated degrees of freedom
the smaller df is used, which gives the larger t — the conservative side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext

from core.units import UNITS_PER_TONNE

PRECISION = 50
C_TO_CO2_NUM = Decimal(44)  # molar mass of CO2, g/mol ...
C_TO_CO2_DEN = Decimal(12)  # ... over that of C: the 44/12 of the IPCC 2006 Guidelines

# One-sided 0.95 quantiles of Student's t (two-sided 90 % interval), by degrees of freedom.
_T95: dict[int, Decimal] = {
    df: Decimal(t)
    for df, t in {
        1: "6.314", 2: "2.920", 3: "2.353", 4: "2.132", 5: "2.015", 6: "1.943", 7: "1.895",
        8: "1.860", 9: "1.833", 10: "1.812", 11: "1.796", 12: "1.782", 13: "1.771",
        14: "1.761", 15: "1.753", 16: "1.746", 17: "1.740", 18: "1.734", 19: "1.729",
        20: "1.725", 21: "1.721", 22: "1.717", 23: "1.714", 24: "1.711", 25: "1.708",
        26: "1.706", 27: "1.703", 28: "1.701", 29: "1.699", 30: "1.697", 40: "1.684",
        60: "1.671", 120: "1.658",
    }.items()
}  # fmt: skip
HUNDRED = Decimal(100)
DEDUCTION_STEP = Decimal("0.0001")


def calc_context() -> Context:
    """The arithmetic context for every calculator (50 digits, half-even until the final floor)."""
    return Context(prec=PRECISION)


def c_to_co2(tonnes_c: Decimal) -> Decimal:
    """t C → t CO2 (× 44/12), multiplying before dividing so exact inputs stay exact longer."""
    with localcontext(calc_context()):
        return tonnes_c * C_TO_CO2_NUM / C_TO_CO2_DEN


def t_critical(df: int) -> Decimal:
    """Student's t, one-sided 0.95, rounding df down to the nearest tabulated value (beyond 120
    the df-120 value, slightly above the normal 1.645, is kept)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    return _T95[max(k for k in _T95 if k <= df)]


def mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(calc_context()):
        return sum(values, Decimal(0)) / len(values)


def uncertainty_percent(samples: Sequence[Decimal]) -> Decimal:
    """Half-width of the 90 % confidence interval of the mean, as a percentage of the mean.

    Needs at least two samples (one sample says nothing about spread). A mean of zero or below
    has no meaningful relative uncertainty and is reported as 100 %.
    """
    n = len(samples)
    if n < 2:
        raise ValueError("at least two samples are needed to estimate uncertainty")
    with localcontext(calc_context()):
        m = sum(samples, Decimal(0)) / n
        if m <= 0:
            return HUNDRED
        variance = sum(((x - m) ** 2 for x in samples), Decimal(0)) / (n - 1)
        standard_error = (variance / n).sqrt()
        return t_critical(n - 1) * standard_error / m * HUNDRED


def deduction_percent(samples: Sequence[Decimal], minimum_percent: Decimal) -> Decimal:
    """The deduction to apply: the larger of the sampling uncertainty and the methodology's
    minimum, capped at 100 %, rounded *up* to 0.0001 % so the report states it exactly and the
    arithmetic after it stays exact."""
    d = min(HUNDRED, max(minimum_percent, uncertainty_percent(samples)))
    return d.quantize(DEDUCTION_STEP, rounding=ROUND_CEILING)


def floor_units(tonnes_co2e: Decimal) -> int:
    """Tonnes → integer on-chain units, floored; never negative (a loss is not a credit, and
    losses are handled by the reversal flow, not by negative issuance)."""
    if tonnes_co2e <= 0:
        return 0
    with localcontext(calc_context()):
        return int((tonnes_co2e * UNITS_PER_TONNE).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class Quantity:
    """A calculator's answer: integer units for the chain plus the numbers behind them.

    `parameters` names every factor used with its value and source, for the monitoring report.
    """

    quantity_units: int
    gross_t_co2e: Decimal
    deduction_percent: Decimal
    net_t_co2e: Decimal
    parameters: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, gross_t_co2e: Decimal, deduction: Decimal, parameters: Mapping[str, str]
    ) -> Quantity:
        with localcontext(calc_context()):
            net = gross_t_co2e * (HUNDRED - deduction) / HUNDRED
        return cls(floor_units(net), gross_t_co2e, deduction, net, dict(parameters))
