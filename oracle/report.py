"""A monitoring report for (project, period): every data file of the period validated, one Merkle
tree over all accepted records, the methodology's quantity, and the report hash.

This is what an oracle node attests and what the API recomputes to serve proofs. It is a pure
function of the files in the project's inbox, the period and the validation clock, so
independent nodes reading the same files reach the same (root, quantity, report hash) and their
attestations agree on chain; a node given different data disagrees visibly.

Inbox layout (docs/oracle-data.md §10)::

    <inbox>/<project_id>/project.json        what is monitored and how it is calculated
    <inbox>/<project_id>/devices.json        the project's device registry (public keys)
    <inbox>/<project_id>/<start>-<end>/      one monitoring period, unix seconds
        readings*.csv|json   scenes*.csv|json   lab-samples*.csv|json (or cores*)   plots*.csv|json
        kelp-harvests*.csv|json   shellfish-harvests*.csv|json

The report hash is keccak256 of the canonical JSON of `MonitoringReport.summary()`: schema,
project, period, calculator and every parameter with its source, counts per kind and per
rejection reason, the data files by SHA-256, the record count, the root and the quantity. The
summary is the monitoring report document itself; publishing it lets anyone recompute the hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from oracle import fields as F
from oracle.blue_carbon import Ecosystem, blue_carbon_removals, mapped_area_ha
from oracle.canonical import canonical_json, decimal_text
from oracle.devices import DeviceRegistry
from oracle.forest import forest_increment
from oracle.keccak import keccak256
from oracle.kelp import (
    DEFAULT_KELP_COMPONENTS,
    KELP_COMPONENTS,
    KELP_FACTORS,
    KelpHarvest,
    kelp_farm_removals,
)
from oracle.loaders import LoadError, load_records
from oracle.mariculture import Factor, FactorError, check_components, resolve_factors
from oracle.period import Period
from oracle.proofs import RecordProof, ReportTree
from oracle.quantities import Quantity
from oracle.readings import validate_readings
from oracle.records import (
    validate_kelp_harvests,
    validate_lab_samples,
    validate_plots,
    validate_scenes,
    validate_shellfish_harvests,
)
from oracle.results import RawRecord, ValidationResult
from oracle.schemas import (
    KelpHarvestRecord,
    LabSample,
    PlotMeasurement,
    RemoteSensingEstimate,
    ShellfishHarvestRecord,
)
from oracle.sediment import SedimentCore
from oracle.shellfish import (
    SHELLFISH_COMPONENTS,
    SHELLFISH_FACTORS,
    ShellfishHarvest,
    shellfish_removals,
)

REPORT_SCHEMA = "tanhui.monitoring-report.v1"
SECONDS_PER_YEAR = 365 * 86_400

Kind = Literal["readings", "scenes", "lab-samples", "plots", "kelp-harvests",
               "shellfish-harvests"]
KINDS: tuple[Kind, ...] = ("readings", "scenes", "lab-samples", "plots", "kelp-harvests",
                           "shellfish-harvests")
_PREFIXES: dict[str, Kind] = {
    "readings": "readings",
    "scenes": "scenes",
    "lab-samples": "lab-samples",
    "cores": "lab-samples",
    "plots": "plots",
    "kelp-harvests": "kelp-harvests",
    "shellfish-harvests": "shellfish-harvests",
}

Calculator = Literal["blue_carbon", "forest_increment", "kelp", "shellfish"]
CALCULATORS: tuple[Calculator, ...] = ("blue_carbon", "forest_increment", "kelp", "shellfish")
# The mariculture calculators: their overridable factors, their components (all, default).
_MARICULTURE: dict[str, tuple[dict[str, Factor], tuple[str, ...], tuple[str, ...]]] = {
    "kelp": (KELP_FACTORS, KELP_COMPONENTS, DEFAULT_KELP_COMPONENTS),
    "shellfish": (SHELLFISH_FACTORS, SHELLFISH_COMPONENTS, SHELLFISH_COMPONENTS),
}


class ReportError(ValueError):
    """The inbox cannot make a report (no project spec, no data, nothing accepted, ...)."""


def kind_of(filename: str) -> Kind:
    """The record kind a data file holds, from its name (e.g. `readings-2024-03.csv`)."""
    name = filename.lower()
    if not name.endswith((".csv", ".json")):
        raise ReportError(f"{filename}: data files are .csv or .json")
    for prefix, kind in _PREFIXES.items():
        if name.startswith(prefix):
            return kind
    raise ReportError(
        f"{filename}: the name must start with one of {', '.join(sorted(_PREFIXES))}"
    )


def period_dir(project_dir: Path, period: Period) -> Path:
    return project_dir / f"{period.start}-{period.end}"


@dataclass(frozen=True)
class ProjectSpec:
    """How a project is monitored: its on-chain id, its data code (devices are registered under
    it), and which calculator turns its records into tonnes, with the calculator's inputs."""

    project_id: int
    code: str
    calculator: Calculator
    area_ha: Decimal
    ecosystem: str = "mangrove"
    land_class: str = ""  # "" = the ecosystem's own name (see __post_init__)
    baseline_until: date | None = None
    minimum_deduction_percent: Decimal = Decimal(0)
    # kelp / shellfish only: factor overrides (name, value), sorted; components to credit
    # (None = the calculator's default set)
    factors: tuple[tuple[str, Decimal], ...] = ()
    components: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # A seagrass project measured on the mangrove class would map no area and silently
        # yield zero removals: the class defaults to the ecosystem's own name.
        if not self.land_class:
            object.__setattr__(self, "land_class", self.ecosystem)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectSpec:
        try:
            calculator = data["calculator"]
            if calculator not in CALCULATORS:
                raise ReportError(f"unknown calculator {calculator!r}")
            baseline = data.get("baseline_until")
            factors, components = _mariculture_options(calculator, data)
            spec = cls(
                project_id=int(data["project_id"]),
                code=str(data["code"]),
                calculator=calculator,
                area_ha=Decimal(str(data["area_ha"])),
                ecosystem=str(data.get("ecosystem", "mangrove")),
                land_class=str(data.get("land_class") or ""),
                baseline_until=date.fromisoformat(baseline) if baseline else None,
                minimum_deduction_percent=Decimal(str(data.get("minimum_deduction_percent", 0))),
                factors=factors,
                components=components,
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ReportError(f"project.json: {exc}") from exc
        if spec.calculator == "forest_increment" and spec.baseline_until is None:
            raise ReportError("project.json: forest_increment needs baseline_until")
        return spec

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "project_id": self.project_id,
            "code": self.code,
            "calculator": self.calculator,
            "area_ha": decimal_text(self.area_ha),
            "minimum_deduction_percent": decimal_text(self.minimum_deduction_percent),
        }
        if self.calculator == "blue_carbon":
            out.update(ecosystem=self.ecosystem, land_class=self.land_class)
        if self.baseline_until is not None:
            out["baseline_until"] = self.baseline_until.isoformat()
        if self.factors:
            out["factors"] = {k: decimal_text(v) for k, v in self.factors}
        if self.components is not None:
            out["components"] = list(self.components)
        return out

    @property
    def factor_overrides(self) -> dict[str, Decimal]:
        return dict(self.factors)

    @property
    def sink_category(self) -> str:
        """The sink category the calculator measures, in the registry's snake-case spelling
        (mangrove, seagrass, salt_marsh, macroalgae, shellfish, forest)."""
        if self.calculator == "blue_carbon":
            return self.ecosystem
        return {"forest_increment": "forest", "kelp": "macroalgae",
                "shellfish": "shellfish"}[self.calculator]

    @classmethod
    def load(cls, project_dir: Path) -> ProjectSpec:
        path = project_dir / "project.json"
        if not path.exists():
            raise ReportError(f"{path}: no project spec")
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _mariculture_options(calculator: str, data: Mapping[str, Any]
                         ) -> tuple[tuple[tuple[str, Decimal], ...], tuple[str, ...] | None]:
    """The spec's `factors` and `components`, checked against the calculator's tables (only
    the kelp and shellfish calculators take them)."""
    raw_factors = data.get("factors")
    raw_components = data.get("components")
    if calculator not in _MARICULTURE:
        if raw_factors is not None or raw_components is not None:
            raise ReportError(f"{calculator} takes no factors or components")
        return (), None
    table, allowed, default = _MARICULTURE[calculator]
    overrides: dict[str, Decimal] = {}
    if raw_factors is not None:
        if not isinstance(raw_factors, Mapping):
            raise ReportError("factors must be an object of name: decimal")
        for name, value in raw_factors.items():
            if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
                raise ReportError(f"factor {name} must be a decimal string")
            try:
                overrides[str(name)] = F.decimal(value, f"factor {name}")
            except F.FieldError as exc:
                raise ReportError(exc.message) from None
    components: tuple[str, ...] | None = None
    try:
        resolve_factors(table, overrides)
        if raw_components is not None:
            if not isinstance(raw_components, list | tuple) or not all(
                    isinstance(c, str) for c in raw_components):
                raise ReportError("components must be a list of names")
            components = check_components(raw_components, allowed, default)
    except FactorError as exc:
        raise ReportError(str(exc)) from None
    return tuple(sorted(overrides.items())), components


@dataclass(frozen=True)
class DataFile:
    name: str
    kind: Kind
    sha256: str
    records: int


@dataclass
class MonitoringReport:
    """Everything a node attests for one project and period, and what it rests on."""

    spec: ProjectSpec
    period: Period
    files: list[DataFile]
    results: dict[Kind, ValidationResult[Any]]
    tree: ReportTree
    quantity: Quantity
    # positions of each kind's rows in the files they came from: (file name, first position)
    origins: dict[Kind, list[tuple[str, int]]] = field(default_factory=dict)
    raws: dict[Kind, list[RawRecord]] = field(default_factory=dict, repr=False)
    registry: DeviceRegistry | None = field(default=None, repr=False)
    now: int = 0

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def quantity_units(self) -> int:
        return self.quantity.quantity_units

    def counts(self) -> dict[str, Any]:
        return {kind: r.counts() for kind, r in self.results.items()}

    def summary(self) -> dict[str, Any]:
        """The monitoring report document whose canonical JSON is hashed into `report_hash`."""
        return {
            "schema": REPORT_SCHEMA,
            "project": self.spec.to_json(),
            "period": {"start": self.period.start, "end": self.period.end},
            "files": [
                {"name": f.name, "kind": f.kind, "sha256": f.sha256, "records": f.records}
                for f in self.files
            ],
            "counts": self.counts(),
            "records": len(self.tree),
            "merkle_root": "0x" + self.root.hex(),
            "calculation": {
                "gross_t_co2e": decimal_text(self.quantity.gross_t_co2e),
                "deduction_percent": decimal_text(self.quantity.deduction_percent),
                "net_t_co2e": decimal_text(self.quantity.net_t_co2e),
                "parameters": dict(self.quantity.parameters),
            },
            "quantity_units": self.quantity_units,
        }

    @property
    def report_hash(self) -> bytes:
        return keccak256(canonical_json(self.summary()))

    def rejections(self) -> list[dict[str, Any]]:
        """Every rejected record with its reason, kind and source file, in file order."""
        out: list[dict[str, Any]] = []
        for kind, result in self.results.items():
            origins = self.origins.get(kind, [])
            for r in result.rejected:
                entry = {"kind": kind, **r.to_json()}
                name, first = _origin(origins, r.position)
                entry.update(file=name, position=r.position - first)
                out.append(entry)
        return out

    def records(self) -> list[bytes]:
        """The canonical bytes of every accepted record (tree order is by leaf, not this)."""
        return [rec for r in self.results.values() for rec in r.records]

    def prove(self, record: bytes) -> RecordProof:
        return self.tree.prove(record)

    def record_at(self, file: str, position: int) -> bytes | None:
        """The canonical bytes of the record at `position` (0-based) of data file `file`, if the
        report accepted it; None when there is no such row or it was rejected."""
        kind = next((f.kind for f in self.files if f.name == file), None)
        if kind is None:
            return None
        starts = self.origins.get(kind, [])
        index = next((i for i, (name, _) in enumerate(starts) if name == file), None)
        if index is None:
            return None
        first = starts[index][1]
        end = starts[index + 1][1] if index + 1 < len(starts) else len(self.raws[kind])
        if not 0 <= position < end - first:
            return None
        raw = self.raws[kind][first + position]
        alone = validate_kind(kind, [raw._replace(position=0)], registry=self.registry,
                              period=self.period, now=self.now)
        if not alone.records:
            return None
        record = alone.records[0]
        try:
            self.tree.prove(record)
        except KeyError:  # valid alone, but rejected in context (duplicate, outlier, ...)
            return None
        return record


def _origin(origins: Sequence[tuple[str, int]], position: int) -> tuple[str, int]:
    found = ("", 0)
    for name, first in origins:
        if first <= position:
            found = (name, first)
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_period(project_dir: Path, period: Period) -> tuple[list[DataFile],
                                                            dict[Kind, list[RawRecord]],
                                                            dict[Kind, list[tuple[str, int]]]]:
    """The period's data files, their raw records per kind (renumbered across files so that
    duplicates between files are caught), and where each file's rows start."""
    directory = period_dir(project_dir, period)
    if not directory.is_dir():
        raise ReportError(f"no data for period {period.start}-{period.end}")
    files: list[DataFile] = []
    raws: dict[Kind, list[RawRecord]] = {}
    origins: dict[Kind, list[tuple[str, int]]] = {}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.name.endswith(".tmp"):
            continue
        kind = kind_of(path.name)
        try:
            rows = load_records(path)
        except LoadError as exc:
            raise ReportError(str(exc)) from exc
        bucket = raws.setdefault(kind, [])
        origins.setdefault(kind, []).append((path.name, len(bucket)))
        base = len(bucket)
        bucket.extend(r._replace(position=base + r.position) for r in rows)
        files.append(DataFile(path.name, kind, _sha256(path), len(rows)))
    if not files:
        raise ReportError(f"no data files for period {period.start}-{period.end}")
    return files, raws, origins


def validate_kind(kind: Kind, rows: Sequence[RawRecord], *, registry: DeviceRegistry | None,
                  period: Period, now: int,
                  verifier: Callable[[bytes, bytes, bytes], bool] | None = None
                  ) -> ValidationResult[Any]:
    """Validate one kind's rows for a period (the same rules the API applies to a submission)."""
    if kind == "readings":
        if registry is None:
            raise ReportError("readings need the project's devices.json")
        return validate_readings(rows, registry=registry, period=period, now=now,
                                 verifier=verifier)
    if kind == "scenes":
        # Scenes map the whole area of interest (mudflat and water around the project too), so
        # their class areas are not bounded by the project's area; the calculator caps it.
        return validate_scenes(rows, period=period, now=now)
    if kind == "lab-samples":
        return validate_lab_samples(rows, period=period, now=now)
    if kind == "kelp-harvests":
        return validate_kelp_harvests(rows, period=period, now=now)
    if kind == "shellfish-harvests":
        return validate_shellfish_harvests(rows, period=period, now=now)
    return validate_plots(rows, period=period, now=now)


def _years(period: Period) -> Decimal:
    return Decimal(period.end - period.start) / Decimal(SECONDS_PER_YEAR)


def _accepted(results: Mapping[Kind, ValidationResult[Any]], kind: Kind) -> list[Any]:
    return list(results[kind].accepted) if kind in results else []


def _cores(results: Mapping[Kind, ValidationResult[Any]]) -> list[SedimentCore]:
    """The accepted lab samples as the calculators' sediment cores."""
    samples: list[LabSample] = _accepted(results, "lab-samples")
    return [
        SedimentCore(s.core_id, s.depth_cm, decimal_text(s.accumulation_cm_per_yr),
                     decimal_text(s.bulk_density_g_cm3), decimal_text(s.toc_percent),
                     s.sampled.isoformat())
        for s in samples
    ]


def calculate(spec: ProjectSpec, period: Period,
              results: Mapping[Kind, ValidationResult[Any]]) -> Quantity:
    """The methodology's quantity from the accepted records."""
    try:
        if spec.calculator == "kelp":
            kelp: list[KelpHarvestRecord] = _accepted(results, "kelp-harvests")
            lots = [KelpHarvest(k.lot_id, k.harvested.isoformat(), k.fresh_weight_t,
                                k.dry_matter_percent, k.carbon_percent_dry) for k in kelp]
            return kelp_farm_removals(lots, years=_years(period), area_ha=spec.area_ha,
                                      cores=_cores(results) or None,
                                      factors=spec.factor_overrides,
                                      components=spec.components,
                                      minimum_deduction_percent=spec.minimum_deduction_percent)
        if spec.calculator == "shellfish":
            shells: list[ShellfishHarvestRecord] = _accepted(results, "shellfish-harvests")
            bivalves = [ShellfishHarvest(r.lot_id, r.harvested.isoformat(), r.species,
                                         r.fresh_weight_t, r.shell_percent,
                                         r.shell_carbon_percent) for r in shells]
            return shellfish_removals(bivalves, years=_years(period), area_ha=spec.area_ha,
                                      cores=_cores(results) or None,
                                      factors=spec.factor_overrides,
                                      components=spec.components,
                                      minimum_deduction_percent=spec.minimum_deduction_percent)
        if spec.calculator == "forest_increment":
            plots: list[PlotMeasurement] = list(results["plots"].accepted) if (
                "plots" in results) else []
            assert spec.baseline_until is not None
            return forest_increment(plots, spec.area_ha, baseline_until=spec.baseline_until,
                                    minimum_deduction_percent=spec.minimum_deduction_percent)
        scenes: list[RemoteSensingEstimate] = list(results["scenes"].accepted) if (
            "scenes" in results) else []
        if scenes and not any(spec.land_class in e.class_areas_ha for e in scenes):
            # a misnamed class is a configuration error, not a measured loss of the ecosystem
            classes = sorted({c for e in scenes for c in e.class_areas_ha})
            raise ReportError(f"no scene maps land class {spec.land_class!r} (project "
                              f"ecosystem {spec.ecosystem!r}; scenes map {', '.join(classes)})")
        area = mapped_area_ha(scenes, spec.land_class) if scenes else spec.area_ha
        area = min(area, spec.area_ha)
        cores = _cores(results)
        return blue_carbon_removals(Ecosystem(spec.ecosystem), area, _years(period),
                                    cores=cores or None,
                                    minimum_deduction_percent=spec.minimum_deduction_percent)
    except (ValueError, ArithmeticError) as exc:
        raise ReportError(f"{spec.calculator}: {exc}") from exc


def build_report(project_dir: Path, period: Period, now: int,
                 verifier: Callable[[bytes, bytes, bytes], bool] | None = None
                 ) -> MonitoringReport:
    """Validate every file of the period, build the tree, calculate: the node's whole job
    before it attests. Raises ReportError when no report can be made."""
    spec = ProjectSpec.load(project_dir)
    registry_path = project_dir / "devices.json"
    registry = DeviceRegistry.load(registry_path) if registry_path.exists() else None
    files, raws, origins = load_period(project_dir, period)
    results: dict[Kind, ValidationResult[Any]] = {}
    for kind in KINDS:
        if kind in raws:
            results[kind] = validate_kind(kind, raws[kind], registry=registry, period=period,
                                          now=now, verifier=verifier)
    if not any(r.records for r in results.values()):
        raise ReportError("no record of the period was accepted")
    quantity = calculate(spec, period, results)
    if quantity.quantity_units <= 0:
        raise ReportError("the period's calculated removals are zero")
    return MonitoringReport(spec, period, files, results, ReportTree(results.values()), quantity,
                            origins, raws, registry, now)
