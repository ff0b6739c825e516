"""Stable reason codes for rejected monitoring records.

A rejected record is never dropped: it is kept with exactly one of these codes (the first check
it failed) plus a human-readable message. The codes are part of the public interface — the API,
validation reports and downstream tools key on them — so they are only ever added, never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a record was rejected. Checks run in the order listed here."""

    TRUNCATED_ROW = "truncated_row"
    """A CSV row with fewer cells than the header (a cut-off file or a dropped delimiter)."""
    MISSING_FIELD = "missing_field"
    """A required field is absent or empty."""
    UNEXPECTED_FIELD = "unexpected_field"
    """A field (or CSV cell) the schema does not define; strict schemas refuse to guess."""
    MALFORMED_FIELD = "malformed_field"
    """A field of the wrong type or syntax (not a decimal, not a timestamp, bad hex, ...)."""
    UNKNOWN_METRIC = "unknown_metric"
    """A sensor metric or spectral index outside the catalogue in oracle.metrics."""
    UNKNOWN_UNIT = "unknown_unit"
    """A unit string nobody recognises."""
    UNIT_MISMATCH = "unit_mismatch"
    """A known unit that does not measure this metric, or cannot be converted to its canonical
    unit exactly (e.g. °F, whose conversion to °C does not terminate in decimal)."""
    UNKNOWN_SPECIES = "unknown_species"
    """A tree species without parameters in the methodology's species table."""
    OUT_OF_RANGE = "out_of_range"
    """A value outside the physically possible range for its metric."""
    INCONSISTENT = "inconsistent_values"
    """Fields that contradict each other (min above max, class areas above the project area)."""
    OUTSIDE_PERIOD = "outside_period"
    """A timestamp or date outside the monitoring period [start, end)."""
    FUTURE_TIMESTAMP = "future_timestamp"
    """A timestamp or date later than the validation clock."""
    UNKNOWN_DEVICE = "unknown_device"
    """A reading from a device not registered for this project."""
    REVOKED_DEVICE = "revoked_device"
    """A reading from a device whose key the project has revoked."""
    BAD_SIGNATURE = "bad_signature"
    """A signature that is malformed, malleable (high s) or recovers to another key."""
    DUPLICATE = "duplicate_record"
    """The same record (byte for byte, once canonical) was already accepted in this submission."""
    CONFLICTING = "conflicting_record"
    """Two different records share one identity (same device, time and metric; same plot tally;
    same core depth). Neither can be trusted, so all of them are rejected."""
    REPLAYED = "replayed_record"
    """The record's identity was already accepted in an earlier submission for the project."""
    OUTLIER = "statistical_outlier"
    """A reading whose robust z-score within its device and metric exceeds the threshold."""


REASON_ORDER: tuple[Reason, ...] = tuple(Reason)
