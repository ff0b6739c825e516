"""Raw input records and validation results shared by every record kind.

Nothing submitted is ever silently dropped: each input row ends up either accepted (with its
canonical bytes, the leaf material) or rejected with one reason code, its position in the
submission (0-based), its source line when there is one, and the fields exactly as received.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from oracle.merkle import MerkleTree, leaf_hashes
from oracle.reasons import REASON_ORDER, Reason

if TYPE_CHECKING:
    from oracle.hashing_pool import LeafHasher

R = TypeVar("R")


class RawRecord(NamedTuple):
    """One submitted record before validation.

    `problem` is set by a loader that already knows the row is broken (a truncated CSV row), so
    the validator can reject it with that reason instead of guessing from missing fields.
    """

    position: int
    fields: Mapping[str, object]
    line: int | None = None
    problem: tuple[Reason, str | None, str] | None = None


def raw_records(rows: Iterable[Mapping[str, object]]) -> list[RawRecord]:
    """Wrap plain mappings (e.g. an API request body) as raw records numbered from 0."""
    return [RawRecord(i, row) for i, row in enumerate(rows)]


@dataclass(frozen=True)
class Rejection:
    """A rejected record, kept with why it was rejected."""

    position: int
    reason: Reason
    message: str
    field: str | None
    record: Mapping[str, object]
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "position": self.position,
            "reason": str(self.reason),
            "message": self.message,
            "record": {k: _jsonable(v) for k, v in self.record.items()},
        }
        if self.field is not None:
            out["field"] = self.field
        if self.line is not None:
            out["line"] = self.line
        return out


def _jsonable(v: object) -> object:
    return v if isinstance(v, str | int | bool) or v is None else str(v)


@dataclass
class ValidationResult(Generic[R]):
    """The outcome of validating one submission of one record kind.

    `accepted[i]` is a typed record and `records[i]` its canonical bytes; `rejected` is in
    submission order.
    """

    kind: str
    accepted: list[R] = field(default_factory=list)
    records: list[bytes] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    precomputed_leaves: list[bytes] | None = field(default=None, repr=False)

    def leaves(self) -> list[bytes]:
        """The Merkle leaves of the accepted records (hashed once, possibly while validating)."""
        if self.precomputed_leaves is None or len(self.precomputed_leaves) != len(self.records):
            self.precomputed_leaves = leaf_hashes(self.records)
        return self.precomputed_leaves

    def tree(self, hasher: LeafHasher | None = None) -> MerkleTree:
        """The Merkle tree over the accepted records (ValueError when nothing was accepted)."""
        return MerkleTree(self.leaves(), hasher)

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.rejected)

    def reason_counts(self) -> dict[str, int]:
        """Rejections per reason code, in the fixed order of oracle.reasons, zeros omitted."""
        c = Counter(r.reason for r in self.rejected)
        return {str(reason): c[reason] for reason in REASON_ORDER if c[reason]}

    def counts(self) -> dict[str, object]:
        return {
            "total": self.total,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "by_reason": self.reason_counts(),
        }

    def summary(self, max_rejections: int | None = 100) -> dict[str, object]:
        """A JSON-ready report: counts plus the first rejections with their reasons."""
        shown = self.rejected if max_rejections is None else self.rejected[:max_rejections]
        return {"kind": self.kind, **self.counts(), "rejections": [r.to_json() for r in shown]}
