"""The report tree over all kinds of record, and self-contained proofs for single records.

A monitoring report for (project, period) commits to one Merkle root over every accepted record
of every kind — readings, scenes, plots, lab samples. Canonical records carry their schema name,
so records of different kinds can never collide in one tree. A `RecordProof` holds everything an
auditor needs to check one record against an attested root without trusting us: the canonical
record itself, its leaf, the sibling path and the root, serialisable as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oracle.merkle import MerkleTree, leaf_hash, verify_proof
from oracle.results import ValidationResult

if TYPE_CHECKING:
    from oracle.hashing_pool import LeafHasher


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: object) -> bytes:
    if not isinstance(s, str) or not s.startswith("0x"):
        raise ValueError("expected 0x-prefixed hex")
    return bytes.fromhex(s[2:])


@dataclass(frozen=True)
class RecordProof:
    """A canonical record with its Merkle path to a root."""

    record: bytes
    leaf: bytes
    proof: tuple[bytes, ...]
    root: bytes

    def verify(self, root: bytes | None = None) -> bool:
        """Whether the record is in the tree with `root` (default: the root carried along,
        which is only meaningful if it is the one attested on chain)."""
        expected = self.root if root is None else root
        return leaf_hash(self.record) == self.leaf and verify_proof(self.proof, expected, self.leaf)

    def to_json(self) -> dict[str, object]:
        return {
            "record": self.record.decode("utf-8"),
            "leaf": _hex(self.leaf),
            "proof": [_hex(p) for p in self.proof],
            "root": _hex(self.root),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RecordProof:
        record = data.get("record")
        proof = data.get("proof")
        if not isinstance(record, str) or not isinstance(proof, list):
            raise ValueError("a record proof needs a record string and a proof list")
        return cls(
            record.encode("utf-8"),
            _unhex(data.get("leaf")),
            tuple(_unhex(p) for p in proof),
            _unhex(data.get("root")),
        )


class ReportTree:
    """One Merkle tree over the accepted records of several validation results."""

    def __init__(
        self, results: Iterable[ValidationResult[Any]], hasher: LeafHasher | None = None
    ) -> None:
        leaves: list[bytes] = []
        self.counts: dict[str, int] = {}
        for r in results:
            leaves.extend(r.leaves())
            self.counts[r.kind] = self.counts.get(r.kind, 0) + len(r.records)
        self.tree = MerkleTree(leaves, hasher)

    @property
    def root(self) -> bytes:
        return self.tree.root

    def __len__(self) -> int:
        return self.tree.n

    def prove(self, record: bytes) -> RecordProof:
        """The proof for a canonical record (KeyError when the report does not contain it)."""
        leaf = leaf_hash(record)
        return RecordProof(record, leaf, tuple(self.tree.proof(leaf)), self.tree.root)
