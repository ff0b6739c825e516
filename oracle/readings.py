"""Validation of signed IoT sensor readings: the high-volume path.

A year of hourly readings from twenty devices is hundreds of thousands of records per report,
so this path avoids constructing a pydantic model per record. It calls the same field parsers
as the schema in oracle.schemas (the tests check that both accept and refuse the same inputs)
and caches what repeats — device lookups, metric/unit conversions — so a reading costs a few
microseconds before hashing.

Checks, in order, each rejection carrying the first failure: schema (fields present, nothing
extra, each parsing strictly) → metric and unit (with exact normalisation) → physical range →
time (not after the validation clock, inside the period) → device (registered, not revoked) →
signature → identity (replay from an earlier submission, duplicate, conflict) → outliers.
The signature comes before identity so a forged copy of a genuine reading cannot shadow it, and
outliers come last because they are judged against the accepted population.

Identity is (device, time, metric). An identical re-transmission is a `duplicate_record`; two
*different* signed readings for one identity are all rejected as `conflicting_record`, since a
device cannot have measured two values at one instant and nobody can say which is true. The
accepted set therefore does not depend on the order rows arrive in — and with sorted leaves,
neither does the Merkle root.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from decimal import Decimal
from typing import Any, NamedTuple

from oracle import fields as F
from oracle.canonical import CANONICAL_DECIMAL, decimal_text, reading_message, reading_record
from oracle.devices import DeviceRegistry, DeviceStatus
from oracle.hashing_pool import LeafHasher, split_leaves
from oracle.metrics import METRICS, Conversion, UnitError, unit_rule
from oracle.outliers import (
    DEFAULT_MIN_SAMPLES,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_S,
    robust_outliers,
)
from oracle.period import Period
from oracle.reasons import Reason
from oracle.results import RawRecord, Rejection, ValidationResult
from oracle.signatures import SignatureVerifier

READING_FIELDS = ("device_id", "time", "metric", "value", "unit", "signature")
_FIELD_SET = frozenset(READING_FIELDS)

ReadingKey = tuple[str, int, str]


class Reading(NamedTuple):
    """An accepted reading. `value`/`unit` are normalised; `sent_*` are what the device signed."""

    device_id: str
    time: int
    metric: str
    value: Decimal
    unit: str
    sent_value: str
    sent_unit: str
    signature: bytes

    @property
    def key(self) -> ReadingKey:
        return (self.device_id, self.time, self.metric)

    def message(self) -> bytes:
        return reading_message(
            self.device_id, self.time, self.metric, self.sent_value, self.sent_unit
        )

    def canonical(self) -> bytes:
        return reading_record(
            self.device_id,
            self.time,
            self.metric,
            self.sent_value,
            self.sent_unit,
            "0x" + self.signature.hex(),
        )


class _Reject(Exception):
    def __init__(self, reason: Reason, field: str | None, message: str) -> None:
        self.reason = reason
        self.field = field
        self.message = message


def _schema_problem(fields: object) -> tuple[Reason, str | None, str]:
    if not isinstance(fields, dict):
        return (Reason.MALFORMED_FIELD, None, "a reading must be an object")
    missing = [f for f in READING_FIELDS if fields.get(f) in (None, "")]
    if missing:
        return (Reason.MISSING_FIELD, missing[0], f"{missing[0]} is required")
    extra = sorted(str(k) for k in fields if k not in _FIELD_SET)
    return (Reason.UNEXPECTED_FIELD, extra[0], f"unexpected field {extra[0]!r}")


def validate_readings(
    rows: Sequence[RawRecord],
    *,
    registry: DeviceRegistry,
    period: Period,
    now: int,
    seen: Collection[ReadingKey] = frozenset(),
    verify_signatures: bool = True,
    outlier_threshold: Decimal = DEFAULT_THRESHOLD,
    outlier_min_samples: int = DEFAULT_MIN_SAMPLES,
    outlier_window_s: int = DEFAULT_WINDOW_S,
    verifier: Callable[[bytes, bytes, bytes], bool] | None = None,
    hasher: LeafHasher | None = None,
) -> ValidationResult[Reading]:
    """Validate a submission of signed readings for `registry.project` over `period`.

    `now` is the validation clock (unix seconds), passed in so that every node validating the
    same data reaches the same result. `seen` holds identities accepted in earlier submissions
    for the project (replays). Outliers are judged per device, metric and window of
    `outlier_window_s` seconds counted from the period start (a week by default: long enough
    for a stable baseline, short enough that the seasons do not hide a spike).
    `verify_signatures=False` is only for measuring the rest of the pipeline; an attesting node
    always verifies. With a `hasher`, candidate records are leaf-hashed in its worker while
    validation goes on (see oracle.hashing_pool).
    """
    verify = verifier if verifier is not None else SignatureVerifier().verify
    devices = registry.devices
    start, end = period.start, period.end
    rejected: list[Rejection] = []
    # accepted so far, pending the conflict and outlier checks that need the whole submission
    candidates: list[tuple[RawRecord, Reading, bytes]] = []
    by_key: dict[ReadingKey, int] = {}  # identity → position in candidates
    conflicted: set[int] = set()
    # outlier groups: (device, metric, window) → candidate positions
    groups: dict[tuple[str, str, int], list[int]] = {}
    window = outlier_window_s
    # per metric/unit pair: (conversion or None, canonical unit, low, high)
    rules: dict[tuple[str, str], tuple[Conversion | None, str, Decimal, Decimal]] = {}
    # leaf hashing streamed to a worker: canonical records not yet sent, and the futures
    unsent: list[bytes] = []
    hashing: list[Future[bytes]] = []
    chunk = hasher.CHUNK if hasher is not None else 0

    # Fast paths below accept exactly what the oracle.fields parsers accept (the tests check
    # it); anything unusual falls through to those parsers for the verdict and the message.
    decimal_syntax = F.DECIMAL_SYNTAX.fullmatch
    new_reading = tuple.__new__  # what NamedTuple._make uses, without the per-call Python frame
    canonical_syntax = CANONICAL_DECIMAL.fullmatch
    active = DeviceStatus.ACTIVE
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of acyclic objects: collection passes are pure cost
    try:
        f: Any  # a submitted mapping: anything may be in it until checked
        for rec in rows:
            position, f, line, problem = rec  # one unpacking instead of four attribute reads
            try:
                if problem is not None:
                    raise _Reject(*problem)
                try:
                    # six fields, all of them ours ⇔ exactly the schema's fields
                    if len(f) != 6:
                        raise KeyError
                    device_id = f["device_id"]
                    time_field = f["time"]
                    metric = f["metric"]
                    unit = f["unit"]
                    value_field = f["value"]
                    sig_text = f["signature"]
                except (KeyError, TypeError):
                    raise _Reject(*_schema_problem(f)) from None
                try:
                    device = devices.get(device_id) if type(device_id) is str else None
                    if device is None:
                        F.identifier(device_id, "device_id")
                    if (
                        type(time_field) is str
                        and len(time_field) <= 12
                        and time_field.isdigit()
                        and time_field.isascii()
                    ):
                        t = int(time_field)
                    else:
                        t = F.unix_time(time_field, "time")
                    rule = rules.get((metric, unit)) if type(metric) is type(unit) is str else None
                    if rule is None:
                        conv, canonical_unit = unit_rule(metric, unit)
                        m = METRICS[metric]
                        rule = rules[(metric, unit)] = (conv, canonical_unit, m.low, m.high)
                    # already canonical text (the usual case) is also valid decimal syntax
                    sent_text = None
                    if type(value_field) is str and canonical_syntax(value_field):
                        sent = Decimal(value_field)
                        sent_text = value_field
                    elif type(value_field) is str and decimal_syntax(value_field):
                        sent = Decimal(value_field)
                    else:
                        sent = F.decimal(value_field, "value")
                    sig = None
                    if (
                        type(sig_text) is str
                        and len(sig_text) == 132
                        and sig_text[0] == "0"
                        and sig_text[1] in "xX"
                    ):
                        try:
                            sig = bytes.fromhex(sig_text[2:])
                        except ValueError:
                            sig = None
                    if sig is None or len(sig) != 65:
                        sig = F.signature(sig_text, "signature")
                except (F.FieldError, UnitError) as e:
                    raise _Reject(e.reason, e.field, e.message) from None
                conv = rule[0]
                value = sent if conv is None else conv.apply(sent)
                if value < rule[2] or value > rule[3]:
                    raise _Reject(
                        Reason.OUT_OF_RANGE,
                        "value",
                        f"{metric} {decimal_text(value)} {rule[1]} outside [{rule[2]}, {rule[3]}]",
                    )
                if t > now:
                    raise _Reject(Reason.FUTURE_TIMESTAMP, "time", f"time {t} is after now ({now})")
                if t < start or t >= end:
                    raise _Reject(
                        Reason.OUTSIDE_PERIOD, "time", f"time {t} outside period [{start}, {end})"
                    )
                if device is None:
                    raise _Reject(
                        Reason.UNKNOWN_DEVICE,
                        "device_id",
                        f"device {device_id!r} is not registered for {registry.project}",
                    )
                if device.status is not active:
                    raise _Reject(
                        Reason.REVOKED_DEVICE, "device_id", f"device {device_id} is revoked"
                    )
                if sent_text is None:
                    sent_text = decimal_text(sent)
                if verify_signatures:
                    msg = reading_message(device_id, t, metric, sent_text, unit)
                    if not verify(msg, sig, device.address_bytes):
                        raise _Reject(
                            Reason.BAD_SIGNATURE,
                            "signature",
                            f"signature does not recover to {device.address}",
                        )
                key = (device_id, t, metric)
                if key in seen:
                    raise _Reject(
                        Reason.REPLAYED, None, f"{device_id}/{metric}@{t} was accepted earlier"
                    )
                canonical = reading_record(device_id, t, metric, sent_text, unit, "0x" + sig.hex())
                pos = by_key.get(key)
                if pos is not None:
                    first = candidates[pos][0].position
                    if candidates[pos][2] == canonical:
                        raise _Reject(Reason.DUPLICATE, None, f"repeats record {first}")
                    conflicted.add(pos)
                    raise _Reject(
                        Reason.CONFLICTING,
                        "value",
                        f"{device_id}/{metric}@{t} conflicts with record {first}",
                    )
                pos = by_key[key] = len(candidates)
                candidates.append(
                    (
                        rec,
                        new_reading(
                            Reading, (device_id, t, metric, value, rule[1], sent_text, unit, sig)
                        ),
                        canonical,
                    )
                )
                if hasher is not None:
                    unsent.append(canonical)
                    if len(unsent) >= chunk:
                        hashing.append(hasher.submit(unsent))
                        unsent = []
                group = groups.get((device_id, metric, (t - start) // window))
                if group is None:
                    groups[(device_id, metric, (t - start) // window)] = [pos]
                else:
                    group.append(pos)
            except _Reject as r:
                rejected.append(Rejection(position, r.reason, r.message, r.field, f, line))

        if hasher is not None and unsent:
            hashing.append(hasher.submit(unsent))
        result: ValidationResult[Reading] = ValidationResult("iot-reading")
        _finish(
            candidates,
            conflicted,
            groups,
            rejected,
            result,
            outlier_threshold,
            outlier_min_samples,
            hashing if hasher is not None else None,
        )
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


def _finish(
    candidates: list[tuple[RawRecord, Reading, bytes]],
    conflicted: set[int],
    groups: dict[tuple[str, str, int], list[int]],
    rejected: list[Rejection],
    result: ValidationResult[Reading],
    threshold: Decimal,
    min_samples: int,
    hashing: list[Future[bytes]] | None,
) -> None:
    """Drop conflicting candidates, run the outlier test, and fill `result` in input order
    (with the leaves hashed in the background, when there are any)."""
    late: dict[int, tuple[Reason, str]] = {}  # candidate position → (reason, message)
    for pos in conflicted:
        r = candidates[pos][1]
        late[pos] = (
            Reason.CONFLICTING,
            f"{r.device_id}/{r.metric}@{r.time} has conflicting records",
        )
    for (device_id, metric, _), positions in groups.items():
        if conflicted:
            positions = [p for p in positions if p not in conflicted]
        values = [candidates[p][1].value for p in positions]
        for i, note in robust_outliers(values, threshold, min_samples):
            late[positions[i]] = (Reason.OUTLIER, f"{device_id}/{metric}: {note}")
    leaves = split_leaves(b"".join(f.result() for f in hashing)) if hashing is not None else None
    if not late:
        result.accepted = [c[1] for c in candidates]
        result.records = [c[2] for c in candidates]
        result.precomputed_leaves = leaves
    else:
        if leaves is not None:
            result.precomputed_leaves = [x for pos, x in enumerate(leaves) if pos not in late]
        for pos, (rec, reading, canonical) in enumerate(candidates):
            bad = late.get(pos)
            if bad is None:
                result.accepted.append(reading)
                result.records.append(canonical)
            else:
                rejected.append(
                    Rejection(rec.position, bad[0], bad[1], "value", rec.fields, rec.line)
                )
    rejected.sort(key=lambda x: x.position)
    result.rejected = rejected
