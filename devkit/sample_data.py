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
- `manifest.json`  project ids, periods, areas, file names, record counts, and the faults.

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from coincurve import PrivateKey

from chain.signatures import SECP256K1_N
from oracle.canonical import decimal_text, reading_message
from oracle.devices import Device, DeviceRegistry, DeviceStatus
from oracle.keccak import keccak256
from oracle.period import CHINA_TIME, date_start
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
    for name, header, rows in (
        ("cores.csv", CORE_HEADER, core_rows),
        ("plots.csv", PLOT_HEADER, plot_rows),
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
