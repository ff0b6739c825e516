"""Canonical byte encodings: the exact bytes that are signed, hashed into leaves and proven.

Every record kind encodes to canonical JSON: keys sorted by code point, no whitespace, UTF-8
(non-ASCII such as "杉木" or "°C" written as is), a "schema" member naming kind and version,
decimals as strings in canonical decimal text, integers as JSON integers, dates as YYYY-MM-DD.
Any language's JSON library can reproduce the bytes; no floats ever appear, so there is no
shortest-round-trip ambiguity. Ids are restricted to an alphabet that needs no escaping, and the
reading encoders below are f-string templates that the tests prove byte-identical to
`canonical_json` — they exist only because they are ten times faster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

READING_SCHEMA = "tanhui.iot-reading.v1"
SCENE_SCHEMA = "tanhui.remote-sensing.v1"
PLOT_SCHEMA = "tanhui.field-plot.v1"
LAB_SCHEMA = "tanhui.lab-sample.v1"
KELP_SCHEMA = "tanhui.kelp-harvest.v1"
SHELLFISH_SCHEMA = "tanhui.shellfish-harvest.v1"

# Text that is already canonical decimal text (what decimal_text would return unchanged).
CANONICAL_DECIMAL = re.compile(r"0|-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])")


def decimal_text(d: Decimal) -> str:
    """Canonical decimal text: plain notation, no exponent, no trailing fractional zeros, no
    "+" and no negative zero. 18.40 → "18.4", 1E+2 → "100", -0.0 → "0".

    This is also the form devices sign, so "18.40" in a CSV and 18.4 in JSON verify alike.
    """
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s == "-0" or s == "":
        return "0"
    return s


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        raise TypeError("floats have no canonical decimal form; use Decimal")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def canonical_json(obj: Mapping[str, object]) -> bytes:
    """The canonical JSON bytes of a mapping (see the module docstring for the rules)."""
    return json.dumps(
        _plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def reading_message(device_id: str, time: int, metric: str, value: str, unit: str) -> bytes:
    """The bytes a device signs for one reading: the canonical reading without its signature.

    `value` is the canonical decimal text and `unit` the unit exactly as the device sent it;
    normalisation to the metric's canonical unit is a public, deterministic function of these.
    """
    return (
        f'{{"device":"{device_id}","metric":"{metric}","schema":"{READING_SCHEMA}",'
        f'"time":{time},"unit":"{unit}","value":"{value}"}}'
    ).encode()


def reading_record(
    device_id: str, time: int, metric: str, value: str, unit: str, signature_hex: str
) -> bytes:
    """The canonical bytes of a signed reading: its signed message plus "sig" (0x hex, lower)."""
    return (
        f'{{"device":"{device_id}","metric":"{metric}","schema":"{READING_SCHEMA}",'
        f'"sig":"{signature_hex}","time":{time},"unit":"{unit}","value":"{value}"}}'
    ).encode()
