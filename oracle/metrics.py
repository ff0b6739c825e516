"""The catalogue of sensor metrics: canonical unit, exact unit conversions, physical range.

A reading is normalised to its metric's canonical unit only where the conversion is exact in
decimal arithmetic: scale factors (mm → m, m³/m³ → %, V → mV, µg/L ↔ mg/m³) and the Kelvin offset
(K → °C subtracts exactly 273.15). Conversions that do not terminate in decimal (°F → °C needs
×5/9) or that are only approximately equal (‰ salinity vs. practical salinity PSU) are refused
with `unit_mismatch`: guessing would put a number on chain that nobody measured.

Ranges are the physically possible envelope for a mangrove, salt-marsh, seagrass or forest site,
deliberately wide: they catch broken sensors and wrong units (a temperature of 291 is a Kelvin
reading labelled °C), while the statistical outlier test catches implausible-but-possible values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oracle.reasons import Reason


@dataclass(frozen=True)
class Conversion:
    """value_in_canonical = value × factor + offset (both exact decimals)."""

    factor: Decimal
    offset: Decimal = Decimal(0)

    def apply(self, value: Decimal) -> Decimal:
        return value * self.factor + self.offset


@dataclass(frozen=True)
class Metric:
    """One measurable quantity: its canonical unit and the closed range [low, high] it may take."""

    name: str
    unit: str
    low: Decimal
    high: Decimal
    description: str


def _d(x: str) -> Decimal:
    return Decimal(x)


# Canonical unit → every accepted spelling with its exact conversion to the canonical unit.
_IDENTITY = Conversion(Decimal(1))
_TEMPERATURE = {
    "degC": _IDENTITY,
    "°C": _IDENTITY,
    "℃": _IDENTITY,
    "C": _IDENTITY,
    "celsius": _IDENTITY,
    "K": Conversion(Decimal(1), _d("-273.15")),
}
UNIT_ALIASES: dict[str, dict[str, Conversion]] = {
    "degC": _TEMPERATURE,
    "PSU": {"PSU": _IDENTITY, "psu": _IDENTITY, "PSS-78": _IDENTITY},
    "mg/L": {"mg/L": _IDENTITY, "mg/l": _IDENTITY, "g/m3": _IDENTITY, "g/m³": _IDENTITY},
    "pH": {"pH": _IDENTITY},
    "m": {"m": _IDENTITY, "cm": Conversion(_d("0.01")), "mm": Conversion(_d("0.001"))},
    "NTU": {"NTU": _IDENTITY, "FNU": _IDENTITY},
    "ug/L": {
        "ug/L": _IDENTITY,
        "µg/L": _IDENTITY,
        "μg/L": _IDENTITY,
        "mg/m3": _IDENTITY,
        "mg/m³": _IDENTITY,
    },
    "%": {"%": _IDENTITY, "percent": _IDENTITY, "m3/m3": Conversion(_d("100"))},
    "mV": {"mV": _IDENTITY, "V": Conversion(_d("1000"))},
    "ppm": {"ppm": _IDENTITY, "umol/mol": _IDENTITY, "µmol/mol": _IDENTITY},
    "umol/m2/s": {"umol/m2/s": _IDENTITY, "µmol/m²/s": _IDENTITY, "µmol m-2 s-1": _IDENTITY},
    "mS/cm": {
        "mS/cm": _IDENTITY,
        "uS/cm": Conversion(_d("0.001")),
        "µS/cm": Conversion(_d("0.001")),
    },
}

# Units recognised as units of something, but never convertible here (see module docstring).
INEXACT_UNITS = frozenset({"degF", "°F", "℉", "F", "ppt", "‰", "g/kg", "mu", "亩"})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("water_temperature", "degC", _d("-5"), _d("45"), "sea/pore water temperature"),
        Metric("air_temperature", "degC", _d("-40"), _d("60"), "air temperature"),
        Metric("soil_temperature", "degC", _d("-20"), _d("70"), "sediment/soil temperature"),
        Metric("salinity", "PSU", _d("0"), _d("50"), "practical salinity of water"),
        Metric("porewater_salinity", "PSU", _d("0"), _d("80"), "sediment porewater salinity"),
        Metric("dissolved_oxygen", "mg/L", _d("0"), _d("25"), "dissolved oxygen"),
        Metric("ph", "pH", _d("0"), _d("14"), "pH"),
        Metric("water_level", "m", _d("-10"), _d("15"), "water level above chart datum"),
        Metric("turbidity", "NTU", _d("0"), _d("4000"), "turbidity"),
        Metric("chlorophyll_a", "ug/L", _d("0"), _d("500"), "chlorophyll-a"),
        Metric("soil_moisture", "%", _d("0"), _d("100"), "volumetric water content"),
        Metric("redox_potential", "mV", _d("-600"), _d("800"), "sediment redox potential (Eh)"),
        Metric("co2_concentration", "ppm", _d("0"), _d("100000"), "CO2 mole fraction"),
        Metric("co2_flux", "umol/m2/s", _d("-100"), _d("100"), "net ecosystem CO2 exchange"),
        Metric("conductivity", "mS/cm", _d("0"), _d("100"), "electrical conductivity"),
    )
}


def conversion_for(metric: Metric, unit: str) -> Conversion | None:
    """The exact conversion from `unit` to the metric's canonical unit, if there is one."""
    return UNIT_ALIASES[metric.unit].get(unit)


KNOWN_UNITS: frozenset[str] = frozenset(
    {u for aliases in UNIT_ALIASES.values() for u in aliases} | INEXACT_UNITS
)


class UnitError(ValueError):
    """A metric/unit pair that cannot be accepted; `reason` is a stable code."""

    def __init__(self, reason: Reason, field: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


UnitRule = tuple[Conversion | None, str]  # (conversion, None when identity; canonical unit)
_unit_rules: dict[tuple[str, str], UnitRule] = {}


def unit_rule(metric_name: object, unit: object) -> UnitRule:
    """How to bring `unit` to the canonical unit of `metric_name`, or UnitError.

    Cached per pair: a submission uses a few dozen pairs at most, and this runs per reading.
    """
    if type(metric_name) is str and type(unit) is str:
        rule = _unit_rules.get((metric_name, unit))
        if rule is not None:
            return rule
    if metric_name is None or metric_name == "":
        raise UnitError(Reason.MISSING_FIELD, "metric", "metric is required")
    if unit is None or unit == "":
        raise UnitError(Reason.MISSING_FIELD, "unit", "unit is required")
    if not isinstance(metric_name, str):
        raise UnitError(Reason.MALFORMED_FIELD, "metric", "metric must be text")
    if not isinstance(unit, str):
        raise UnitError(Reason.MALFORMED_FIELD, "unit", "unit must be text")
    metric = METRICS.get(metric_name)
    if metric is None:
        raise UnitError(Reason.UNKNOWN_METRIC, "metric", f"unknown metric {metric_name!r}")
    conv = conversion_for(metric, unit)
    if conv is None:
        if unit in INEXACT_UNITS:
            raise UnitError(
                Reason.UNIT_MISMATCH,
                "unit",
                f"{unit!r} has no exact conversion to {metric.unit}; send {metric.unit}",
            )
        if unit in KNOWN_UNITS:
            raise UnitError(
                Reason.UNIT_MISMATCH, "unit", f"{unit!r} does not measure {metric_name}"
            )
        raise UnitError(Reason.UNKNOWN_UNIT, "unit", f"unknown unit {unit!r}")
    identity = conv.factor == 1 and conv.offset == 0
    rule = (None if identity else conv, metric.unit)
    if len(_unit_rules) < 10_000:
        _unit_rules[(metric_name, unit)] = rule
    return rule


def normalise(metric_name: object, unit: object, value: Decimal) -> tuple[Decimal, str]:
    """`value` in the metric's canonical unit, with that unit's name; UnitError if impossible."""
    conv, canonical_unit = unit_rule(metric_name, unit)
    return (value if conv is None else conv.apply(value)), canonical_unit
