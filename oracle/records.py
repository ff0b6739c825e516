"""Validation of the low-volume kinds: remote-sensing estimates, field plots, lab samples, and
mariculture harvest lots (kelp; mussels and oysters).

These arrive in hundreds or thousands per report, so each record is validated with its pydantic
schema (oracle.schemas), then checked against the period and the clock, the species table (for
plots), the project area (for scenes), and against the other records for duplicates, conflicts
and replays — with the same identity rules as readings: an identical repeat is a duplicate,
different records sharing an identity are all rejected as conflicting, and identities accepted
in an earlier submission are replays.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from oracle.canonical import decimal_text
from oracle.period import Period, date_start
from oracle.reasons import Reason
from oracle.results import RawRecord, Rejection, ValidationResult
from oracle.schemas import (
    KelpHarvestRecord,
    LabSample,
    PlotMeasurement,
    RemoteSensingEstimate,
    ShellfishHarvestRecord,
    drop_empty,
    rejection_of,
)

M = TypeVar("M", bound=BaseModel)
Problem = tuple[Reason, str | None, str]


def _validate(
    rows: Sequence[RawRecord],
    model: type[M],
    *,
    kind: str,
    day: Callable[[M], date],
    day_field: str,
    identity: Callable[[M], Hashable],
    canonical: Callable[[M], bytes],
    period: Period,
    now: int,
    seen: Collection[Hashable],
    check: Callable[[M], Problem | None] = lambda _: None,
    prepare: Callable[[Mapping[str, object]], Mapping[str, object]] = lambda f: f,
) -> ValidationResult[M]:
    rejected: list[Rejection] = []
    candidates: list[tuple[RawRecord, M, bytes]] = []
    by_key: dict[Hashable, int] = {}
    conflicted: set[int] = set()
    for rec in rows:
        try:
            if rec.problem is not None:
                raise _Rejected(rec.problem)
            try:
                m = model.model_validate(prepare(rec.fields))
            except ValidationError as e:
                raise _Rejected(rejection_of(e)) from None
            problem = check(m)
            if problem is not None:
                raise _Rejected(problem)
            t = date_start(day(m))
            if t > now:
                raise _Rejected((Reason.FUTURE_TIMESTAMP, day_field, f"{day(m)} is after now"))
            if not period.contains(t):
                raise _Rejected(
                    (Reason.OUTSIDE_PERIOD, day_field, f"{day(m)} is outside the period")
                )
            key = identity(m)
            if key in seen:
                raise _Rejected((Reason.REPLAYED, None, f"{key} was accepted earlier"))
            data = canonical(m)
            pos = by_key.get(key)
            if pos is not None:
                first = candidates[pos][0].position
                if candidates[pos][2] == data:
                    raise _Rejected((Reason.DUPLICATE, None, f"repeats record {first}"))
                conflicted.add(pos)
                raise _Rejected((Reason.CONFLICTING, None, f"{key} conflicts with record {first}"))
            by_key[key] = len(candidates)
            candidates.append((rec, m, data))
        except _Rejected as r:
            reason, fld, message = r.problem
            rejected.append(Rejection(rec.position, reason, message, fld, rec.fields, rec.line))
    result: ValidationResult[M] = ValidationResult(kind)
    for pos, (rec, m, data) in enumerate(candidates):
        if pos in conflicted:
            rejected.append(
                Rejection(
                    rec.position,
                    Reason.CONFLICTING,
                    f"{identity(m)} has conflicting records",
                    None,
                    rec.fields,
                    rec.line,
                )
            )
        else:
            result.accepted.append(m)
            result.records.append(data)
    rejected.sort(key=lambda r: r.position)
    result.rejected = rejected
    return result


class _Rejected(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def validate_scenes(
    rows: Sequence[RawRecord],
    *,
    period: Period,
    now: int,
    project_area_ha: Decimal | None = None,
    seen: Collection[Hashable] = frozenset(),
) -> ValidationResult[RemoteSensingEstimate]:
    """Remote-sensing estimates; identity (scene_id, model_id). With `project_area_ha`, the
    class areas of a scene may not add up to more than the project (they are areas inside it).
    CSV rows are flat (`area_ha.<class>`, `<index>.<stat>` columns) and are unflattened here."""

    def check(m: RemoteSensingEstimate) -> Problem | None:
        if project_area_ha is not None:
            total = sum(m.class_areas_ha.values(), Decimal(0))
            if total > project_area_ha:
                return (
                    Reason.INCONSISTENT,
                    "class_areas_ha",
                    f"classes cover {decimal_text(total)} ha of a "
                    f"{decimal_text(project_area_ha)} ha project",
                )
        return None

    def prepare(fields: Mapping[str, object]) -> Mapping[str, object]:
        if "class_areas_ha" in fields:
            return fields
        return RemoteSensingEstimate.unflatten(fields)

    return _validate(
        rows,
        RemoteSensingEstimate,
        kind="remote-sensing",
        day=lambda m: m.acquired,
        day_field="acquired",
        identity=lambda m: (m.scene_id, m.model_id),
        canonical=lambda m: m.canonical(),
        period=period,
        now=now,
        seen=seen,
        check=check,
        prepare=prepare,
    )


def validate_plots(
    rows: Sequence[RawRecord],
    *,
    period: Period,
    now: int,
    species: Collection[str] | None = None,
    seen: Collection[Hashable] = frozenset(),
) -> ValidationResult[PlotMeasurement]:
    """Field-plot tallies; identity (plot, date, species, DBH, height). `species` is the set the
    methodology has parameters for (defaults to oracle.forest's table)."""
    if species is None:
        from oracle.forest import SPECIES

        species = SPECIES.keys()
    known = species

    def check(m: PlotMeasurement) -> Problem | None:
        if m.species not in known:
            return (Reason.UNKNOWN_SPECIES, "species", f"no parameters for species {m.species!r}")
        return None

    return _validate(
        rows,
        PlotMeasurement,
        kind="field-plot",
        day=lambda m: m.measured,
        day_field="measured",
        identity=lambda m: (m.plot_id, m.measured, m.species, m.dbh_cm, m.height_m),
        canonical=lambda m: m.canonical(),
        period=period,
        now=now,
        seen=seen,
        check=check,
    )


def validate_lab_samples(
    rows: Sequence[RawRecord],
    *,
    period: Period,
    now: int,
    seen: Collection[Hashable] = frozenset(),
) -> ValidationResult[LabSample]:
    """Sediment-core lab samples; identity (core, depth)."""
    return _validate(
        rows,
        LabSample,
        kind="lab-sample",
        day=lambda m: m.sampled,
        day_field="sampled",
        identity=lambda m: (m.core_id, m.depth_cm),
        canonical=lambda m: m.canonical(),
        period=period,
        now=now,
        seen=seen,
    )


def validate_kelp_harvests(
    rows: Sequence[RawRecord],
    *,
    period: Period,
    now: int,
    seen: Collection[Hashable] = frozenset(),
) -> ValidationResult[KelpHarvestRecord]:
    """Kelp harvest lots; identity the lot id (a lot is weighed once). Empty CSV cells of the
    optional lab fields mean "not analysed"."""
    return _validate(
        rows,
        KelpHarvestRecord,
        kind="kelp-harvest",
        day=lambda m: m.harvested,
        day_field="harvested",
        identity=lambda m: m.lot_id,
        canonical=lambda m: m.canonical(),
        period=period,
        now=now,
        seen=seen,
        prepare=lambda f: drop_empty(f, KelpHarvestRecord.OPTIONAL),
    )


def validate_shellfish_harvests(
    rows: Sequence[RawRecord],
    *,
    period: Period,
    now: int,
    species: Collection[str] | None = None,
    seen: Collection[Hashable] = frozenset(),
) -> ValidationResult[ShellfishHarvestRecord]:
    """Mussel and oyster harvest lots; identity the lot id. `species` is the set the methodology
    has parameters for (defaults to oracle.shellfish's table)."""
    if species is None:
        from oracle.shellfish import SPECIES

        species = SPECIES.keys()
    known = species

    def check(m: ShellfishHarvestRecord) -> Problem | None:
        if m.species not in known:
            return (Reason.UNKNOWN_SPECIES, "species",
                    f"no parameters for species {m.species!r} (known: {', '.join(sorted(known))})")
        return None

    return _validate(
        rows,
        ShellfishHarvestRecord,
        kind="shellfish-harvest",
        day=lambda m: m.harvested,
        day_field="harvested",
        identity=lambda m: m.lot_id,
        canonical=lambda m: m.canonical(),
        period=period,
        now=now,
        seen=seen,
        check=check,
        prepare=lambda f: drop_empty(f, ShellfishHarvestRecord.OPTIONAL),
    )
