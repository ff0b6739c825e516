"""The documented record schemas (pydantic v2, strict) for the kinds of monitoring data.

These models are the contract at the edges: the API validates single records with them, the
JSON Schema in docs/oracle-data.md comes from them, and the low-volume kinds (remote-sensing
estimates, field plots, lab samples) are validated record by record with them. The high-volume
IoT path (oracle.readings) applies the very same field parsers without building a model per
record. Every field goes through a parser from oracle.fields, so a failure carries a stable
reason code as its pydantic error type; `rejection_of` turns a ValidationError into that code.

Each model also checks what a single record can show on its own — units, physical ranges,
internal consistency. What needs context (the period, the clock, the device registry, other
records) is checked by the validators in oracle.readings and oracle.records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, model_validator
from pydantic_core import PydanticCustomError, core_schema

from oracle import fields as F
from oracle.canonical import (
    KELP_SCHEMA,
    LAB_SCHEMA,
    PLOT_SCHEMA,
    SCENE_SCHEMA,
    SHELLFISH_SCHEMA,
    canonical_json,
    decimal_text,
    reading_record,
)
from oracle.metrics import METRICS, UnitError, normalise
from oracle.reasons import Reason


def _parsed(parser: Callable[[object, str], Any], json_type: Any) -> PlainValidator:
    def validate(value: object, info: core_schema.ValidationInfo) -> Any:
        try:
            return parser(value, info.field_name or "value")
        except F.FieldError as e:
            raise PydanticCustomError(str(e.reason), e.message) from None

    return PlainValidator(validate, json_schema_input_type=json_type)


def _text(value: object, field: str) -> str:
    if value is None or value == "":
        raise F.FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if not isinstance(value, str):
        raise F.FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be text")
    return value


def _count(value: object, field: str) -> int:
    return F.integer(value, field, minimum=1)


def _depth(value: object, field: str) -> int:
    return F.integer(value, field, minimum=0)


Ident = Annotated[str, _parsed(F.identifier, str)]
Text = Annotated[str, _parsed(_text, str)]
Label = Annotated[str, _parsed(F.label, str)]
Dec = Annotated[Decimal, _parsed(F.decimal, str | int)]
UnixTime = Annotated[int, _parsed(F.unix_time, int | str)]
Day = Annotated[date, _parsed(F.iso_date, str)]
Signature = Annotated[bytes, _parsed(F.signature, str)]
Count = Annotated[int, _parsed(_count, int | str)]
Depth = Annotated[int, _parsed(_depth, int | str)]


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _check_range(field: str, value: Decimal, low: Decimal, high: Decimal, unit: str) -> None:
    """Closed range [low, high]; `low_open` ranges are written with a tiny low instead."""
    if not low <= value <= high:
        raise PydanticCustomError(
            str(Reason.OUT_OF_RANGE),
            f"{field} {decimal_text(value)} {unit} is outside [{low}, {high}]",
        )


def _check_positive(field: str, value: Decimal, high: Decimal, unit: str) -> None:
    if not Decimal(0) < value <= high:
        raise PydanticCustomError(
            str(Reason.OUT_OF_RANGE),
            f"{field} {decimal_text(value)} {unit} is outside (0, {high}]",
        )


# ---------------------------------------------------------------------------------------------
# IoT sensor readings


class IotReading(_Record):
    """One signed sensor reading. `value` is in `unit` as sent; `signature` is the device's
    EIP-191 signature over oracle.canonical.reading_message(...)."""

    device_id: Ident
    time: UnixTime
    metric: Text
    value: Dec
    unit: Text
    signature: Signature

    @model_validator(mode="after")
    def _metric_unit_range(self) -> Self:
        try:
            value, canonical_unit = normalise(self.metric, self.unit, self.value)
        except UnitError as e:
            raise PydanticCustomError(str(e.reason), e.message) from None
        m = METRICS[self.metric]
        _check_range("value", value, m.low, m.high, canonical_unit)
        return self

    def canonical(self) -> bytes:
        return reading_record(
            self.device_id,
            self.time,
            self.metric,
            decimal_text(self.value),
            self.unit,
            "0x" + self.signature.hex(),
        )


# ---------------------------------------------------------------------------------------------
# Remote-sensing estimates

INDEX_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "ndvi": (Decimal(-1), Decimal(1)),
    "evi": (Decimal(-1), Decimal(1)),
    "ndwi": (Decimal(-1), Decimal(1)),
    "mndwi": (Decimal(-1), Decimal(1)),
    "savi": (Decimal(-1), Decimal(1)),
}
MAX_CLASS_AREA_HA = Decimal(10_000_000)  # larger than any single project can be


class IndexStats(_Record):
    """Statistics of one spectral index over the project area in a scene."""

    mean: Dec
    std: Dec
    min: Dec
    max: Dec


class RemoteSensingEstimate(_Record):
    """Land-cover areas and index statistics a classification model derived from one scene.

    `class_areas_ha` maps a land-cover class (mangrove, saltmarsh, seagrass, mudflat, water,
    forest, ...) to its area in hectares inside the project boundary.
    """

    scene_id: Ident
    sensor: Label
    acquired: Day
    model_id: Ident
    class_areas_ha: dict[Ident, Dec]
    index_stats: dict[str, IndexStats] = {}

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if not self.class_areas_ha:
            raise PydanticCustomError(str(Reason.MISSING_FIELD), "class_areas_ha is empty")
        for cls, area in self.class_areas_ha.items():
            _check_range(f"class_areas_ha.{cls}", area, Decimal(0), MAX_CLASS_AREA_HA, "ha")
        for name, s in self.index_stats.items():
            bounds = INDEX_RANGES.get(name)
            if bounds is None:
                raise PydanticCustomError(str(Reason.UNKNOWN_METRIC), f"unknown index {name!r}")
            lo, hi = bounds
            for stat in ("mean", "min", "max"):
                _check_range(f"{name}.{stat}", getattr(s, stat), lo, hi, "")
            _check_range(f"{name}.std", s.std, Decimal(0), hi - lo, "")
            if not s.min <= s.mean <= s.max:
                raise PydanticCustomError(
                    str(Reason.INCONSISTENT), f"{name}: min ≤ mean ≤ max does not hold"
                )
        return self

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "schema": SCENE_SCHEMA,
                "scene_id": self.scene_id,
                "sensor": self.sensor,
                "acquired": self.acquired,
                "model_id": self.model_id,
                "class_areas_ha": dict(self.class_areas_ha),
                "index_stats": {
                    k: {"mean": s.mean, "std": s.std, "min": s.min, "max": s.max}
                    for k, s in self.index_stats.items()
                },
            }
        )

    @staticmethod
    def unflatten(fields: Mapping[str, object]) -> dict[str, object]:
        """The nested form of a flat CSV row.

        Columns `area_ha.<class>` fill class_areas_ha and `<index>.<stat>` fill index_stats;
        empty cells are absent values. Anything else passes through for the schema to judge.
        """
        out: dict[str, object] = {}
        areas: dict[str, object] = {}
        stats: dict[str, dict[str, object]] = {}
        for k, v in fields.items():
            if k.startswith("area_ha."):
                if v != "":
                    areas[k[len("area_ha.") :]] = v
            elif "." in k and k.split(".", 1)[0] in INDEX_RANGES:
                name, stat = k.split(".", 1)
                if v != "":
                    stats.setdefault(name, {})[stat] = v
            else:
                out[k] = v
        out["class_areas_ha"] = areas
        if stats:
            out["index_stats"] = stats
        return out


# ---------------------------------------------------------------------------------------------
# Field-plot measurements

MAX_DBH_CM = Decimal(300)
MAX_HEIGHT_M = Decimal(120)
PLOT_AREA_M2 = (Decimal(100), Decimal(10_000))


class PlotMeasurement(_Record):
    """One tally line of a permanent sample plot survey: `count` trees of `species` with this
    diameter at breast height (1.3 m) and height, on a plot of `plot_area_m2`, on `measured`."""

    plot_id: Ident
    plot_area_m2: Dec
    measured: Day
    species: Label
    dbh_cm: Dec
    height_m: Dec
    count: Count

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        _check_range("plot_area_m2", self.plot_area_m2, *PLOT_AREA_M2, "m²")
        _check_positive("dbh_cm", self.dbh_cm, MAX_DBH_CM, "cm")
        _check_positive("height_m", self.height_m, MAX_HEIGHT_M, "m")
        if self.count > 100_000:
            raise PydanticCustomError(str(Reason.OUT_OF_RANGE), "count above 100000")
        return self

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "schema": PLOT_SCHEMA,
                "plot_id": self.plot_id,
                "plot_area_m2": self.plot_area_m2,
                "measured": self.measured,
                "species": self.species,
                "dbh_cm": self.dbh_cm,
                "height_m": self.height_m,
                "count": self.count,
            }
        )


# ---------------------------------------------------------------------------------------------
# Lab samples of sediment cores

MAX_TOC_PERCENT = Decimal(60)  # peat-like sediment tops out near here
BULK_DENSITY = (Decimal("0.05"), Decimal("2.65"))  # 2.65: density of quartz, no solid is denser
MAX_ACCUMULATION_CM_PER_YR = Decimal(10)
MAX_DEPTH_CM = 1000


class LabSample(_Record):
    """One analysed section of a sediment core: total organic carbon, dry bulk density and the
    sediment accumulation rate from dating (²¹⁰Pb/¹³⁷Cs), at `depth_cm` below the surface."""

    core_id: Ident
    sampled: Day
    depth_cm: Depth
    toc_percent: Dec
    bulk_density_g_cm3: Dec
    accumulation_cm_per_yr: Dec

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.depth_cm > MAX_DEPTH_CM:
            raise PydanticCustomError(str(Reason.OUT_OF_RANGE), f"depth_cm above {MAX_DEPTH_CM}")
        _check_positive("toc_percent", self.toc_percent, MAX_TOC_PERCENT, "%")
        _check_range("bulk_density_g_cm3", self.bulk_density_g_cm3, *BULK_DENSITY, "g/cm³")
        _check_positive(
            "accumulation_cm_per_yr",
            self.accumulation_cm_per_yr,
            MAX_ACCUMULATION_CM_PER_YR,
            "cm/yr",
        )
        return self

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "schema": LAB_SCHEMA,
                "core_id": self.core_id,
                "sampled": self.sampled,
                "depth_cm": self.depth_cm,
                "toc_percent": self.toc_percent,
                "bulk_density_g_cm3": self.bulk_density_g_cm3,
                "accumulation_cm_per_yr": self.accumulation_cm_per_yr,
            }
        )


# ---------------------------------------------------------------------------------------------
# Mariculture harvest lots (kelp; mussels and oysters)

MAX_LOT_FRESH_WEIGHT_T = Decimal(100_000)  # a lot is one landing, not a season
KELP_DRY_MATTER_PERCENT = (Decimal(3), Decimal(40))  # fresh kelp is 85-95 % water
KELP_CARBON_PERCENT_DRY = (Decimal(10), Decimal(50))  # ~25-35 % C of dry matter
MAX_SHELL_PERCENT = Decimal(95)
SHELL_CARBON_PERCENT = (Decimal(5), Decimal(14))  # CaCO3 is 12.0 % C; organic matrix adds a bit


def drop_empty(fields: Mapping[str, object], optional: tuple[str, ...]) -> dict[str, object]:
    """A CSV row with its empty optional cells removed (absent, not "")."""
    return {k: v for k, v in fields.items() if not (k in optional and v == "")}


class KelpHarvestRecord(_Record):
    """One harvested kelp lot: fresh weight at the weighbridge and, when the lot was analysed,
    its dry-matter percent and carbon percent of dry matter (both or neither)."""

    lot_id: Ident
    harvested: Day
    fresh_weight_t: Dec
    dry_matter_percent: Dec | None = None
    carbon_percent_dry: Dec | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("dry_matter_percent", "carbon_percent_dry")

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        _check_positive("fresh_weight_t", self.fresh_weight_t, MAX_LOT_FRESH_WEIGHT_T, "t")
        if (self.dry_matter_percent is None) != (self.carbon_percent_dry is None):
            raise PydanticCustomError(
                str(Reason.INCONSISTENT),
                "dry_matter_percent and carbon_percent_dry are given together or not at all",
            )
        if self.dry_matter_percent is not None and self.carbon_percent_dry is not None:
            _check_range("dry_matter_percent", self.dry_matter_percent,
                         *KELP_DRY_MATTER_PERCENT, "%")
            _check_range("carbon_percent_dry", self.carbon_percent_dry,
                         *KELP_CARBON_PERCENT_DRY, "%")
        return self

    def canonical(self) -> bytes:
        data: dict[str, object] = {
            "schema": KELP_SCHEMA,
            "lot_id": self.lot_id,
            "harvested": self.harvested,
            "fresh_weight_t": self.fresh_weight_t,
        }
        if self.dry_matter_percent is not None and self.carbon_percent_dry is not None:
            data["dry_matter_percent"] = self.dry_matter_percent
            data["carbon_percent_dry"] = self.carbon_percent_dry
        return canonical_json(data)


class ShellfishHarvestRecord(_Record):
    """One harvested bivalve lot: species (`mussel` or `oyster`), total fresh weight, the shell
    share of it weighed on a subsample, and, when analysed, the shells' carbon percent."""

    lot_id: Ident
    harvested: Day
    species: Label
    fresh_weight_t: Dec
    shell_percent: Dec
    shell_carbon_percent: Dec | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("shell_carbon_percent",)

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        _check_positive("fresh_weight_t", self.fresh_weight_t, MAX_LOT_FRESH_WEIGHT_T, "t")
        _check_positive("shell_percent", self.shell_percent, MAX_SHELL_PERCENT, "%")
        if self.shell_carbon_percent is not None:
            _check_range("shell_carbon_percent", self.shell_carbon_percent,
                         *SHELL_CARBON_PERCENT, "%")
        return self

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


# ---------------------------------------------------------------------------------------------


def rejection_of(error: ValidationError) -> tuple[Reason, str | None, str]:
    """The reason code, field and message of the first error in a pydantic ValidationError."""
    err = error.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or None
    kind = err.get("type", "")
    if kind == "missing":
        return Reason.MISSING_FIELD, loc, f"{loc} is required"
    if kind == "extra_forbidden":
        return Reason.UNEXPECTED_FIELD, loc, f"unexpected field {loc!r}"
    try:
        reason = Reason(kind)
    except ValueError:
        reason = Reason.MALFORMED_FIELD
    return reason, loc, str(err.get("msg", kind))
