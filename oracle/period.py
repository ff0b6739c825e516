"""Monitoring periods: half-open [start, end) in unix seconds, dates read in China time.

Dates (survey days, scene acquisitions, core sampling days) carry no time of day, so they are
read as the instant 00:00 in UTC+8 — the registry's convention, matching periods such as
2024-01-01T00:00+08:00 .. 2025-01-01T00:00+08:00. A date is inside the period when that instant
is; a date is "in the future" when the instant is after the validation clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

CHINA_TIME = timezone(timedelta(hours=8), "UTC+8")


def date_start(d: date) -> int:
    """Unix seconds of 00:00 UTC+8 on `d`."""
    return int(datetime(d.year, d.month, d.day, tzinfo=CHINA_TIME).timestamp())


@dataclass(frozen=True)
class Period:
    """A monitoring period [start, end) in unix seconds."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @classmethod
    def of_dates(cls, first: date, end: date) -> Period:
        """From the first day of the period to the day after its last (both UTC+8)."""
        return cls(date_start(first), date_start(end))

    def contains(self, t: int) -> bool:
        return self.start <= t < self.end

    def contains_date(self, d: date) -> bool:
        return self.contains(date_start(d))
