"""Merkle trees whose proofs verify with OpenZeppelin's MerkleProof (sorted-pair keccak).

The tree is laid out exactly like OpenZeppelin's `SimpleMerkleTree.of(leaves)` from
@openzeppelin/merkle-tree (sortLeaves on): leaves sorted ascending, stored in reverse at the end
of an array of 2n−1 nodes, node i = keccak256(sort(node 2i+1, node 2i+2)). So anyone can rebuild
the root with that library from the published leaf hashes, and a proof from `proof()` verifies
with `MerkleProof.verify(proof, root, leaf)` on chain.

Sorting the leaves makes the root a function of the *set* of accepted records, not of the order
files were read in: oracle nodes that ingest the same data by different routes agree on the root.

Leaves are double-hashed, keccak256(keccak256(record)), like OpenZeppelin's StandardMerkleTree,
so a 64-byte record can never be passed off as an inner node (second-preimage safety).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING

from oracle.keccak import (
    build_sorted_pair_tree,
    build_subtree,
    double_keccak_many,
    hash_nodes,
    keccak256,
    subtree_levels,
)

if TYPE_CHECKING:
    from oracle.hashing_pool import LeafHasher


def leaf_hash(record: bytes) -> bytes:
    """The leaf of a canonical record: keccak256(keccak256(record))."""
    return keccak256(keccak256(record))


def leaf_hashes(records: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of many records at once (the bulk path used when building report trees)."""
    return double_keccak_many(records)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak256 of the two children, smaller first."""
    return keccak256(a + b if a < b else b + a)


class MerkleTree:
    """An immutable tree over 32-byte leaves with O(log n) proofs for any of them."""

    __slots__ = ("_nodes", "_sorted", "n")

    SPLIT_MIN = 8192  # below this, handing half the tree to a worker costs more than it saves

    def __init__(self, leaves: Sequence[bytes], hasher: LeafHasher | None = None) -> None:
        """The tree over `leaves`; with a `hasher`, large trees are built half in its worker."""
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        if any(len(leaf) != 32 for leaf in leaves):
            raise ValueError("Merkle leaves must be 32 bytes")
        ordered = sorted(leaves)
        n = len(ordered)
        leaf_blob = b"".join(reversed(ordered))
        nodes = bytearray(32 * (n - 1)) + leaf_blob
        if hasher is not None and n >= self.SPLIT_MIN:
            left = hasher.submit_left_subtree(leaf_blob, n)
            build_subtree(nodes, n, 2)
            inner = left.result()
            for lo, hi in subtree_levels(n, 1):
                nodes[32 * lo : 32 * (hi + 1)] = inner[32 * lo : 32 * (hi + 1)]
            hash_nodes(nodes, (0,))
        else:
            build_sorted_pair_tree(nodes, n)
        self._nodes = nodes
        self._sorted = ordered
        self.n = n

    @classmethod
    def of_records(cls, records: Sequence[bytes]) -> MerkleTree:
        """The tree over canonical records (leaves are their double keccak)."""
        return cls(leaf_hashes(records))

    @property
    def root(self) -> bytes:
        return bytes(self._nodes[:32])

    def node(self, i: int) -> bytes:
        """Node i of the OpenZeppelin array layout (0 is the root)."""
        return bytes(self._nodes[32 * i : 32 * i + 32])

    def __contains__(self, leaf: object) -> bool:
        return isinstance(leaf, bytes) and self._position(leaf) is not None

    def _position(self, leaf: bytes) -> int | None:
        k = bisect_left(self._sorted, leaf)
        if k < self.n and self._sorted[k] == leaf:
            return k
        return None

    def proof(self, leaf: bytes) -> list[bytes]:
        """Sibling hashes from the leaf up to (not including) the root; KeyError if absent."""
        k = self._position(leaf)
        if k is None:
            raise KeyError("leaf is not in the tree")
        j = 2 * self.n - 2 - k  # tree index of the k-th smallest leaf
        out = []
        while j > 0:
            sibling = j + 1 if j % 2 else j - 1
            out.append(self.node(sibling))
            j = (j - 1) // 2
        return out

    def record_proof(self, record: bytes) -> list[bytes]:
        """The proof for a canonical record (hashes it to its leaf first)."""
        return self.proof(leaf_hash(record))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over `leaves` (order does not matter: leaves are sorted first)."""
    return MerkleTree(leaves).root


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The proof for `leaves[index]`. For many proofs, build a MerkleTree once instead."""
    return MerkleTree(leaves).proof(leaves[index])


def verify_proof(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """What OpenZeppelin's MerkleProof.verify computes: fold the proof with the sorted-pair hash."""
    node = leaf
    for p in proof:
        node = hash_pair(node, p)
    return node == root


def verify_record(proof: Sequence[bytes], root: bytes, record: bytes) -> bool:
    """Whether a canonical record is in the tree with this root."""
    return verify_proof(proof, root, leaf_hash(record))
