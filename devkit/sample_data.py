"""Generate the sample monitoring data set: `python -m devkit.sample_data OUT_DIR`.

The generator is the source of the sample data (the files are never committed); the same seed
always produces byte-identical files. It writes:

- `devices.json`   the device registry of the Maowei Sea (茅尾海, Qinzhou, Beibu Gulf) mangrove
                   restoration project: 10 water-quality buoys and 10 sediment sensors, plus one
                   soil sensor revoked after it was replaced in January.
- `readings.csv`   a year (2024, UTC+8) of hourly readings, two metrics per device, each signed
                   by its device's key. Buoys report water temperature and salinity, sediment
                   sensors soil temperature and volumetric moisture; buoy 03 reports temperature
                   in kelvin and sediment sensors 07–10 moisture in m³/m³, as real fleets mix
                   firmware. Timestamps are ISO 8601 (+08:00) or unix seconds by device.
- `scenes.json`    four Sentinel-2 land-cover estimates of the project area over the year.
- `cores.csv`      lab analyses of 24 sediment cores, three sections each (5, 15, 25 cm).
- `plots.csv`      a forest carbon-ticket parcel (杉木/马尾松 plantation, Rong'an, Guangxi):
                   24 permanent 600 m² plots, surveyed in November 2019 and November 2024.
- `kelp-harvests.csv`       a Lianjiang (连江, Fuzhou, Fujian) kelp farm's 2024 harvest: 12 lots,
                   April–May, each analysed for dry matter and carbon.
- `shellfish-harvests.csv`  a Shengsi (嵊泗 枸杞乡, Zhejiang) 厚壳贻贝 mussel farm's 2024 harvest:
                   12 lots with their shell shares, half with shell carbon analyses.
- `farm-cores.csv` lab analyses of 8 sediment cores under the mussel farm (3 sections each).
- `manifest.json`  project ids, periods, areas, file names, record counts, and the faults.

`farm_for_target(calculator, target_units)` builds a kelp or shellfish farm's spec and files
whose computed quantity is at least a given target (the seeds' Lianjiang 326.4 t and Shengsi
500 t cases), for end-to-end tests.

Field data has faults, so the readings include a few, on purpose and deterministically:
salinity spikes from biofouled sensors (statistical outliers), repeated transmissions
(duplicates), readings from the revoked sensor, Fahrenheit readings from a misconfigured buoy
(no exact conversion), and one reading whose signature was made with a key that is not the
device's. `--clean` leaves them out.

Device keys are derived from the seed and device id (keccak256 of a label): sample keys only,
public by construction, never for a real device.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, Literal

from coincurve import PrivateKey

from chain.signatures import SECP256K1_N
from oracle.canonical import decimal_text, reading_message
from oracle.devices import Device, DeviceRegistry, DeviceStatus
from oracle.keccak import keccak256
from oracle.period import CHINA_TIME, Period, date_start
from oracle.report import KINDS, ProjectSpec, calculate, validate_kind
from oracle.results import ValidationResult, raw_records
from oracle.signatures import address_of_private_key, sign_message

MANGROVE_PROJECT = "GX-QZ-MW-2024"
FOREST_PROJECT = "GX-RA-FT-2019"
YEAR_START = date(2024, 1, 1)
YEAR_END = date(2025, 1, 1)
FOREST_START = date(2019, 11, 1)
FOREST_END = date(2024, 12, 1)
FOREST_BASELINE_UNTIL = date(2019, 12, 31)
MANGROVE_AREA_HA = Decimal("253.3")
FOREST_AREA_HA = Decimal("120.5")
PLOT_AREA_M2 = Decimal(600)
KELP_PROJECT = "FJ-LJ-KELP-2024"
SHELLFISH_PROJECT = "ZJ-SS-MUSSEL-2024"
KELP_AREA_HA = Decimal("180")  # raft culture sea area
SHELLFISH_AREA_HA = Decimal("666.7")  # 万亩贻贝养殖区: 10,000 mu
LIANJIANG_TARGET_UNITS = 326_400_000  # seed 001: 326.4 t macroalgae sediment + RDOC carbon
SHENGSI_TARGET_UNITS = 500_000_000  # seed 001: 500 t mussel-farming sediment carbon


def device_key(device_id: str, project: str = MANGROVE_PROJECT, seed: int = 2024) -> bytes:
    """The deterministic sample private key of a device."""
    k = keccak256(f"tanhui sample device key|{project}|{device_id}|{seed}".encode())
    if not 0 < int.from_bytes(k, "big") < SECP256K1_N:  # pragma: no cover - negligible
        k = keccak256(k)
    return k


@dataclass(frozen=True)
class _Sensor:
    device_id: str
    kind: str
    metrics: tuple[tuple[str, str], ...]  # (metric, unit as reported)
    unix_time: bool


def _fleet() -> list[_Sensor]:
    fleet = []
    for i in range(1, 11):
        temp_unit = "K" if i == 3 else "degC"
        fleet.append(
            _Sensor(
                f"MW-BUOY-{i:02d}",
                "buoy",
                (("water_temperature", temp_unit), ("salinity", "PSU")),
                unix_time=i % 2 == 0,
            )
        )
    for i in range(1, 11):
        moisture_unit = "m3/m3" if i >= 7 else "%"
        fleet.append(
            _Sensor(
                f"MW-SOIL-{i:02d}",
                "sediment sensor",
                (("soil_temperature", "degC"), ("soil_moisture", moisture_unit)),
                unix_time=i % 3 == 0,
            )
        )
    return fleet


REVOKED_DEVICE = "MW-SOIL-00"


def registry(seed: int = 2024) -> DeviceRegistry:
    """The sample project's device registry (20 active devices, one revoked)."""
    devices = [
        Device(s.device_id, address_of_private_key(device_key(s.device_id, seed=seed)), kind=s.kind)
        for s in _fleet()
    ]
    devices.append(
        Device(
            REVOKED_DEVICE,
            address_of_private_key(device_key(REVOKED_DEVICE, seed=seed)),
            DeviceStatus.REVOKED,
            "sediment sensor",
        )
    )
    return DeviceRegistry.of(MANGROVE_PROJECT, devices)


def _value(metric: str, t_hours: float, rnd: random.Random, site: float) -> float:
    """A plausible value for the Maowei Sea: seasonal, diurnal and tidal cycles plus noise."""
    season = math.sin(2 * math.pi * (t_hours / 8784 - 0.30))  # peaks late July
    day = math.sin(2 * math.pi * (t_hours % 24 - 9) / 24)
    tide = math.sin(2 * math.pi * t_hours / 24.84 + site)  # Beibu Gulf: mostly diurnal tide
    wet = max(0.0, math.sin(2 * math.pi * (t_hours / 8784 - 0.35))) ** 2  # Jun–Sep floods
    if metric == "water_temperature":
        return 24.0 + 7.0 * season + 0.8 * day + 0.3 * site + rnd.gauss(0, 0.15)
    if metric == "salinity":
        return 22.0 - 12.0 * wet + 3.0 * tide + site + rnd.gauss(0, 0.4)
    if metric == "soil_temperature":
        return 23.5 + 5.5 * season + 0.3 * day + 0.2 * site + rnd.gauss(0, 0.1)
    if metric == "soil_moisture":
        return 48.0 + 4.0 * tide + 3.0 * wet + site + rnd.gauss(0, 0.5)
    raise ValueError(metric)


def _reported(metric: str, unit: str, value: float) -> str:
    if unit == "K":
        return f"{value + 273.15:.2f}"
    if unit == "m3/m3":
        return f"{value / 100:.4f}"
    if unit == "degF":
        return f"{value * 9 / 5 + 32:.1f}"
    return f"{value:.2f}"


def _time_text(t: int, unix: bool) -> str:
    if unix:
        return str(t)
    return datetime.fromtimestamp(t, CHINA_TIME).isoformat()


def _signed_row(
    key: PrivateKey, sensor: str, t: int, time_text: str, metric: str, value: str, unit: str
) -> list[str]:
    text = decimal_text(Decimal(value))
    sig = sign_message(key, reading_message(sensor, t, metric, text, unit))
    return [sensor, time_text, metric, value, unit, "0x" + sig.hex()]


READING_HEADER = ["device_id", "time", "metric", "value", "unit", "signature"]


def readings(days: int, seed: int, faults: bool) -> Iterator[list[str]]:
    """CSV rows (without header) of the year of readings, in time order."""
    rnd = random.Random(seed)
    fleet = _fleet()
    keys = {s.device_id: PrivateKey(device_key(s.device_id, seed=seed)) for s in fleet}
    site = {s.device_id: rnd.uniform(-1.0, 1.0) for s in fleet}
    start = date_start(YEAR_START)
    hours = 24 * days
    spikes: set[tuple[str, int]] = set()
    duplicates: set[tuple[str, int]] = set()
    fahrenheit: set[int] = set()
    forged_at = -1
    if faults:
        buoys = [s.device_id for s in fleet if s.kind == "buoy"]
        spikes = {(b, rnd.randrange(hours)) for b in buoys for _ in range(3)}
        duplicates = {(rnd.choice(fleet).device_id, rnd.randrange(hours)) for _ in range(40)}
        fahrenheit = {rnd.randrange(hours) for _ in range(3)}
        forged_at = rnd.randrange(hours)
    impostor = PrivateKey(keccak256(b"tanhui sample impostor key"))
    for h in range(hours):
        t = start + 3600 * h
        for s in fleet:
            time_text = _time_text(t, s.unix_time)
            for metric, unit in s.metrics:
                v = _value(metric, h, rnd, site[s.device_id])
                if metric == "salinity" and (s.device_id, h) in spikes:
                    v += 15.0 + 3.0 * rnd.random()  # biofouled conductivity cell
                sent_unit = unit
                if faults and s.device_id == "MW-BUOY-05" and h in fahrenheit:
                    sent_unit = "degF" if metric == "water_temperature" else unit
                value = _reported(metric, sent_unit, v)
                key = keys[s.device_id]
                if faults and h == forged_at and s.device_id == "MW-BUOY-01":
                    key = impostor
                row = _signed_row(key, s.device_id, t, time_text, metric, value, sent_unit)
                yield row
                if (s.device_id, h) in duplicates:
                    yield row  # the logger re-sent after a missed acknowledgement
        if faults and h < 24:  # the replaced sensor kept transmitting for its last day
            revoked_key = PrivateKey(device_key(REVOKED_DEVICE, seed=seed))
            value = _reported("soil_temperature", "degC", _value("soil_temperature", h, rnd, 0))
            yield _signed_row(
                revoked_key,
                REVOKED_DEVICE,
                t,
                _time_text(t, False),
                "soil_temperature",
                value,
                "degC",
            )


def scenes(seed: int) -> list[dict[str, object]]:
    """Four Sentinel-2 MSI land-cover estimates of the mangrove project area in 2024."""
    rnd = random.Random(seed + 1)
    out: list[dict[str, object]] = []
    for i, day in enumerate(("2024-01-19", "2024-04-28", "2024-08-16", "2024-11-24")):
        mangrove = MANGROVE_AREA_HA + Decimal(rnd.randint(-12, 15)) / 10
        mudflat = Decimal("61.8") - Decimal(rnd.randint(0, 20)) / 10
        water = Decimal("38.4") + Decimal(rnd.randint(-30, 30)) / 10
        ndvi_mean = Decimal(rnd.randint(610, 720)) / 1000
        out.append(
            {
                "scene_id": f"S2{'AB'[i % 2]}-MSIL2A-{day.replace('-', '')}-T49QBE",
                "sensor": "Sentinel-2 MSI",
                "acquired": day,
                "model_id": "mangrove-rf-v3",
                "class_areas_ha": {
                    "mangrove": str(mangrove),
                    "mudflat": str(mudflat),
                    "water": str(water),
                },
                "index_stats": {
                    "ndvi": {
                        "mean": str(ndvi_mean),
                        "std": str(Decimal(rnd.randint(80, 130)) / 1000),
                        "min": str(Decimal(rnd.randint(-120, -20)) / 1000),
                        "max": str(Decimal(rnd.randint(880, 940)) / 1000),
                    }
                },
            }
        )
    return out


CORE_HEADER = [
    "core_id",
    "sampled",
    "depth_cm",
    "toc_percent",
    "bulk_density_g_cm3",
    "accumulation_cm_per_yr",
]


def cores(seed: int) -> list[list[str]]:
    """24 cores × 3 sections: TOC falls and bulk density rises with depth, as in real cores."""
    rnd = random.Random(seed + 2)
    rows = []
    for i in range(1, 25):
        sampled = date(2024, 5, 6) + timedelta(days=(i - 1) // 4)
        accumulation = Decimal(rnd.randint(38, 62)) / 100
        toc0 = Decimal(rnd.randint(330, 420)) / 100
        bd0 = Decimal(rnd.randint(78, 92)) / 100
        for k, depth in enumerate((5, 15, 25)):
            toc = toc0 - Decimal(rnd.randint(25, 45)) / 100 * k
            bd = bd0 + Decimal(rnd.randint(4, 9)) / 100 * k
            rows.append(
                [
                    f"MW-2024-C{i:02d}",
                    sampled.isoformat(),
                    str(depth),
                    str(toc),
                    str(bd),
                    str(accumulation),
                ]
            )
    return rows


PLOT_HEADER = [
    "plot_id",
    "plot_area_m2",
    "measured",
    "species",
    "dbh_cm",
    "height_m",
    "count",
]


def _height(species: str, dbh: float, rnd: random.Random) -> float:
    top = 18.0 if species == "杉木" else 17.0
    return 1.3 + top * (1 - math.exp(-0.06 * dbh)) + rnd.gauss(0, 0.5)


def plots(seed: int) -> list[list[str]]:
    """Tally lines of 24 plots in two surveys, trees grouped in 2 cm DBH and 1 m height classes."""
    rnd = random.Random(seed + 3)
    rows: list[list[str]] = []
    for p in range(1, 25):
        plot_id = f"RA-P{p:02d}"
        species = "杉木" if p <= 16 else "马尾松"
        stems = rnd.randint(78, 102)  # ≈ 1300–1700 stems/ha on 600 m²
        trees = [max(5.0, rnd.gauss(11.5, 2.6)) for _ in range(stems)]
        growth = [max(0.1, rnd.gauss(0.7, 0.2)) for _ in trees]
        surveys = (
            (date(2019, 11, 4) + timedelta(days=(p - 1) // 3), trees),
            (
                date(2024, 11, 4) + timedelta(days=(p - 1) // 3),
                [d + 5 * g for d, g in zip(trees, growth, strict=True) if rnd.random() > 0.05],
            ),
        )
        if p == 24:  # a fire in 2023 burnt the whole plot: remeasured, nothing standing
            surveys = (surveys[0], (surveys[1][0], []))
        for measured, dbhs in surveys:
            tally: dict[tuple[int, int], int] = {}
            for d in dbhs:
                dbh_class = 2 * round(d / 2)
                h_class = round(_height(species, dbh_class, rnd))
                tally[(dbh_class, h_class)] = tally.get((dbh_class, h_class), 0) + 1
            for (dbh_class, h_class), n in sorted(tally.items()):
                rows.append(
                    [
                        plot_id,
                        str(PLOT_AREA_M2),
                        measured.isoformat(),
                        species,
                        str(dbh_class),
                        str(h_class),
                        str(n),
                    ]
                )
    return rows


KELP_HEADER = ["lot_id", "harvested", "fresh_weight_t", "dry_matter_percent",
               "carbon_percent_dry"]
SHELLFISH_HEADER = ["lot_id", "harvested", "species", "fresh_weight_t", "shell_percent",
                    "shell_carbon_percent"]


def _weight(base: Decimal, scale: Decimal) -> str:
    """A lot weight in t, rounded up to the kilogram (so scaling up never falls short)."""
    return str((base * scale).quantize(Decimal("0.001"), rounding=ROUND_CEILING))


def kelp_harvests(seed: int = 2024, *, lots: int = 12, scale: Decimal = Decimal(1),
                  analysed: bool = True) -> list[list[str]]:
    """Harvest lots of a Saccharina raft farm, April–May 2024: 80–160 t fresh each (× `scale`),
    dry matter 10–14 %, carbon 26–32 % of dry matter (empty when not `analysed`)."""
    rnd = random.Random(seed + 4)
    rows = []
    for i in range(1, lots + 1):
        day = date(2024, 4, 8) + timedelta(days=(i - 1) * 42 // max(1, lots))
        weight = Decimal(rnd.randint(8000, 16000)) / 100
        dry = Decimal(rnd.randint(100, 140)) / 10
        carbon = Decimal(rnd.randint(260, 320)) / 10
        rows.append([f"LJ-2024-L{i:03d}", day.isoformat(), _weight(weight, scale),
                     str(dry) if analysed else "", str(carbon) if analysed else ""])
    return rows


def shellfish_harvests(seed: int = 2024, *, lots: int = 12, scale: Decimal = Decimal(1),
                       species: str = "mussel") -> list[list[str]]:
    """Harvest lots of a longline 厚壳贻贝 farm, June–October 2024: 150–300 t fresh each
    (× `scale`), shell 52–60 % of fresh weight, every other lot with a shell carbon analysis."""
    rnd = random.Random(seed + 5)
    rows = []
    for i in range(1, lots + 1):
        day = date(2024, 6, 3) + timedelta(days=(i - 1) * 120 // max(1, lots))
        weight = Decimal(rnd.randint(15000, 30000)) / 100
        shell = Decimal(rnd.randint(520, 600)) / 10
        carbon = Decimal(rnd.randint(114, 119)) / 10
        rows.append([f"SS-2024-L{i:03d}", day.isoformat(), species, _weight(weight, scale),
                     str(shell), str(carbon) if i % 2 else ""])
    return rows


def farm_cores(seed: int = 2024, *, cores_n: int = 8) -> list[list[str]]:
    """Sediment cores under the mussel farm, sampled in August 2024: fine biodeposit-rich mud."""
    rnd = random.Random(seed + 6)
    rows = []
    for i in range(1, cores_n + 1):
        accumulation = Decimal(rnd.randint(40, 70)) / 100
        toc0 = Decimal(rnd.randint(90, 130)) / 100
        bd0 = Decimal(rnd.randint(70, 85)) / 100
        sampled = (date(2024, 8, 12) + timedelta(days=i // 3)).isoformat()
        for k, depth in enumerate((5, 15, 25)):
            toc = toc0 - Decimal(rnd.randint(5, 15)) / 100 * k
            bd = bd0 + Decimal(rnd.randint(3, 8)) / 100 * k
            rows.append([f"SS-2024-C{i:02d}", sampled, str(depth), str(toc), str(bd),
                         str(accumulation)])
    return rows


FARM_PERIOD = Period(date_start(YEAR_START), date_start(YEAR_END))


@dataclass(frozen=True)
class FarmData:
    """A project's monitoring spec (project.json without its id), its period, its
    data files (name → header and rows) and the quantity the oracle computes from them."""

    spec: dict[str, Any]
    period: Period
    files: dict[str, tuple[list[str], list[list[str]]]]
    quantity_units: int

    def write(self, project_dir: Path, project_id: int) -> Path:
        """project.json and the period's files under `project_dir` (an inbox's <id>/ folder);
        returns the period's folder."""
        data = project_dir / f"{self.period.start}-{self.period.end}"
        data.mkdir(parents=True, exist_ok=True)
        (project_dir / "project.json").write_text(
            json.dumps({"project_id": project_id, **self.spec}, ensure_ascii=False))
        for name, (header, rows) in self.files.items():
            with (data / name).open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(header)
                w.writerows(rows)
        return data


def _farm(calculator: str, spec: dict[str, Any], scale: Decimal, lots: int, seed: int,
          cores: bool) -> FarmData:
    files: dict[str, tuple[list[str], list[list[str]]]] = {}
    if calculator == "kelp":
        files["kelp-harvests.csv"] = (KELP_HEADER, kelp_harvests(seed, lots=lots, scale=scale))
    else:
        files["shellfish-harvests.csv"] = (SHELLFISH_HEADER,
                                           shellfish_harvests(seed, lots=lots, scale=scale))
    if cores:
        files["lab-samples.csv"] = (CORE_HEADER, farm_cores(seed))
    project = ProjectSpec.from_json({"project_id": 0, **spec})
    results: dict[Any, ValidationResult[Any]] = {}
    for name, (header, rows) in files.items():
        kind = next(k for k in KINDS if name.startswith(k))
        result = validate_kind(kind, raw_records([dict(zip(header, r, strict=True))
                                                  for r in rows]),
                               registry=None, period=FARM_PERIOD, now=FARM_PERIOD.end)
        if result.rejected:
            raise ValueError(f"{name}: {result.rejected[0].reason}: {result.rejected[0].message}")
        results[kind] = result
    q = calculate(project, FARM_PERIOD, results)
    return FarmData(spec, FARM_PERIOD, files, q.quantity_units)


def farm_for_target(
    calculator: Literal["kelp", "shellfish"],
    target_units: int,
    *,
    lots: int = 12,
    seed: int = 2024,
    cores: bool = False,
    factors: Mapping[str, str] | None = None,
    components: Sequence[str] | None = None,
    minimum_deduction_percent: str = "0",
) -> FarmData:
    """A kelp farm (Lianjiang-like) or mussel farm (Shengsi-like) for the 2024 period whose
    computed quantity is at least `target_units`, and just above it: the sample lots are scaled
    by a common factor (weights rounded up to the kg), so for targets of tonnes the result is
    within a few grams per lot of the target.

    `cores` adds sediment cores under the farm (lab-samples.csv; the site-measured sediment
    component, independent of the harvest). `factors`, `components` and
    `minimum_deduction_percent` go into the spec as given. Raises ValueError when the target
    cannot be reached (e.g. no harvest-based component is credited) or a lot would exceed the
    schema's 100,000 t.
    """
    if calculator not in ("kelp", "shellfish"):
        raise ValueError(f"no farm generator for calculator {calculator!r}")
    spec: dict[str, Any] = {
        "code": KELP_PROJECT if calculator == "kelp" else SHELLFISH_PROJECT,
        "calculator": calculator,
        "area_ha": str(KELP_AREA_HA if calculator == "kelp" else SHELLFISH_AREA_HA),
        "minimum_deduction_percent": minimum_deduction_percent,
    }
    if factors:
        spec["factors"] = dict(factors)
    if components is not None:
        spec["components"] = list(components)
    one = _farm(calculator, spec, Decimal(1), lots, seed, cores)
    two = _farm(calculator, spec, Decimal(2), lots, seed, cores)
    slope = two.quantity_units - one.quantity_units  # units per unit of scale
    fixed = one.quantity_units - slope  # what does not grow with the harvest
    if fixed >= target_units:  # the cores alone may reach it: try the smallest harvest
        smallest = _farm(calculator, spec, Decimal("0.001"), lots, seed, cores)
        if smallest.quantity_units >= target_units:
            return smallest
    if slope <= 0:
        raise ValueError("the target cannot be reached: no credited component grows with the "
                         "harvest")
    scale = Decimal(target_units - fixed) / Decimal(slope)
    for _ in range(50):
        farm = _farm(calculator, spec, scale, lots, seed, cores)
        if farm.quantity_units >= target_units:
            return farm
        scale *= Decimal("1.0001")
    raise AssertionError("scaling did not reach the target")  # pragma: no cover


def write(
    out: Path, *, days: int = 366, seed: int = 2024, faults: bool = True
) -> dict[str, object]:
    """Write the data set into `out` (created if needed); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    reg = registry(seed)
    reg.save(out / "devices.json")
    n_readings = 0
    with (out / "readings.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(READING_HEADER)
        for row in readings(days, seed, faults):
            w.writerow(row)
            n_readings += 1
    scene_rows = scenes(seed)
    (out / "scenes.json").write_text(json.dumps(scene_rows, ensure_ascii=False, indent=1) + "\n")
    core_rows = cores(seed)
    plot_rows = plots(seed)
    kelp_rows = kelp_harvests(seed)
    shellfish_rows = shellfish_harvests(seed)
    farm_core_rows = farm_cores(seed)
    for name, header, rows in (
        ("cores.csv", CORE_HEADER, core_rows),
        ("plots.csv", PLOT_HEADER, plot_rows),
        ("kelp-harvests.csv", KELP_HEADER, kelp_rows),
        ("shellfish-harvests.csv", SHELLFISH_HEADER, shellfish_rows),
        ("farm-cores.csv", CORE_HEADER, farm_core_rows),
    ):
        with (out / name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
    manifest: dict[str, object] = {
        "seed": seed,
        "mangrove": {
            "project": MANGROVE_PROJECT,
            "category": "mangrove",
            "site": "茅尾海 Maowei Sea, Qinzhou, Guangxi (Beibu Gulf)",
            "period": [date_start(YEAR_START), date_start(YEAR_START) + 86400 * days],
            "area_ha": str(MANGROVE_AREA_HA),
            "devices": "devices.json",
            "readings": {"file": "readings.csv", "records": n_readings},
            "scenes": {"file": "scenes.json", "records": len(scene_rows)},
            "cores": {"file": "cores.csv", "records": len(core_rows)},
        },
        "forest": {
            "project": FOREST_PROJECT,
            "category": "forest",
            "site": "融安 Rong'an, Liuzhou, Guangxi: 杉木/马尾松 plantation carbon-ticket parcel",
            "period": [date_start(FOREST_START), date_start(FOREST_END)],
            "baseline_until": FOREST_BASELINE_UNTIL.isoformat(),
            "area_ha": str(FOREST_AREA_HA),
            "plots": {"file": "plots.csv", "records": len(plot_rows)},
        },
        "kelp": {
            "project": KELP_PROJECT,
            "site": "连江 Lianjiang, Fuzhou, Fujian: Saccharina raft farm",
            "calculator": "kelp",
            "period": [FARM_PERIOD.start, FARM_PERIOD.end],
            "area_ha": str(KELP_AREA_HA),
            "kelp_harvests": {"file": "kelp-harvests.csv", "records": len(kelp_rows)},
        },
        "shellfish": {
            "project": SHELLFISH_PROJECT,
            "site": "嵊泗 枸杞乡 Gouqi, Shengsi, Zhejiang: 厚壳贻贝 longline mussel farm",
            "calculator": "shellfish",
            "period": [FARM_PERIOD.start, FARM_PERIOD.end],
            "area_ha": str(SHELLFISH_AREA_HA),
            "shellfish_harvests": {"file": "shellfish-harvests.csv",
                                   "records": len(shellfish_rows)},
            "cores": {"file": "farm-cores.csv", "records": len(farm_core_rows)},
        },
        "faults": (
            {
                "statistical_outlier": "3 salinity spikes per buoy",
                "duplicate_record": "up to 40 re-sent readings",
                "revoked_device": f"24 readings from {REVOKED_DEVICE}",
                "unit_mismatch": "up to 3 °F temperatures from MW-BUOY-05",
                "bad_signature": "MW-BUOY-01's readings of one hour signed by another key",
            }
            if faults
            else {}
        ),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="directory to write into")
    parser.add_argument("--days", type=int, default=366, help="days of readings (2024 has 366)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--clean", action="store_true", help="no deliberate faults")
    args = parser.parse_args(argv)
    manifest = write(args.out, days=args.days, seed=args.seed, faults=not args.clean)
    print(json.dumps(manifest, ensure_ascii=False))


if __name__ == "__main__":
    main()
