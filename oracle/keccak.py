"""Keccak-256 for bulk hashing, on pycryptodome's C sponge without its per-call object overhead.

`Crypto.Hash.keccak.new(...).digest()` (and eth_hash on top of it) allocates a sponge, wraps it
in Python objects and frees it for every hash: about 5 µs here, which alone would cap tree
building near 60,000 records/s. The C library underneath exposes init/absorb/digest/reset, so a
single sponge per thread can be reset and reused, and digests can be written straight into a
caller's buffer. Results are plain Keccak-256 (Ethereum's `keccak256`, padding 0x01), checked
against eth_hash in the tests. If the C entry points are ever missing, everything falls back to
eth_hash, slower but identical.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eth_hash.auto import keccak as _eth_keccak

_KECCAK_PADDING = 0x01
_CAPACITY_BYTES = 64  # 2 × 256-bit output
_ROUNDS = 24

try:  # pragma: no branch - depends on the installed pycryptodome build
    import Crypto.Util._raw_api as _raw_api
    from Crypto.Hash import keccak as _pycryptodome_keccak

    _lib: Any = getattr(_pycryptodome_keccak, "_raw_keccak_lib")  # noqa: B009
    _ffi: Any = getattr(_raw_api, "ffi", None)
    _FAST = _ffi is not None and all(
        hasattr(_lib, name)
        for name in ("keccak_init", "keccak_absorb", "keccak_digest", "keccak_reset")
    )
except Exception:  # pragma: no cover - fallback path
    _lib = None
    _ffi = None
    _FAST = False


class _Sponge(threading.local):
    """One reusable C sponge per thread (the C state is not safe to share)."""

    state: Any = None
    out: Any = None


_local = _Sponge()


def _sponge() -> tuple[Any, Any]:
    if _local.state is None:
        holder = _ffi.new("void **")
        if _lib.keccak_init(holder, _CAPACITY_BYTES, _ROUNDS):
            raise RuntimeError("keccak_init failed")
        # keep the holder alive with the state; the sponge lives as long as its thread
        _local.state = _ffi.gc(holder[0], _lib.keccak_destroy)
        _local.out = _ffi.new("uint8_t[32]")
    return _local.state, _local.out


def keccak256(data: bytes) -> bytes:
    """Keccak-256 of `data`."""
    if not _FAST:
        return _eth_keccak(data)
    state, out = _sponge()
    _lib.keccak_reset(state)
    _lib.keccak_absorb(state, data, len(data))
    _lib.keccak_digest(state, out, 32, _KECCAK_PADDING)
    return bytes(_ffi.buffer(out))


def double_keccak_many(records: Sequence[bytes]) -> list[bytes]:
    """keccak256(keccak256(r)) for each record: the leaf hashes of a batch, in order."""
    if not _FAST:
        return [_eth_keccak(_eth_keccak(r)) for r in records]
    state, tmp = _sponge()
    buf = bytearray(32 * len(records))
    base = _ffi.from_buffer("uint8_t[]", buf)
    reset: Callable[..., int] = _lib.keccak_reset
    absorb: Callable[..., int] = _lib.keccak_absorb
    digest: Callable[..., int] = _lib.keccak_digest
    offset = 0
    for rec in records:
        reset(state)
        absorb(state, rec, len(rec))
        digest(state, tmp, 32, _KECCAK_PADDING)
        reset(state)
        absorb(state, tmp, 32)
        digest(state, base + offset, 32, _KECCAK_PADDING)
        offset += 32
    del base
    mv = bytes(buf)
    return [mv[i : i + 32] for i in range(0, len(mv), 32)]


def hash_nodes(tree: bytearray, indices: Iterable[int]) -> None:
    """Compute the given inner nodes of an OpenZeppelin-layout tree in place, in that order.

    Node i is keccak256 of its children 2i+1 and 2i+2, smaller first (the commutative hash
    OpenZeppelin's MerkleProof uses); the children must already be there. They are adjacent in
    the array, so the ordered case absorbs 64 contiguous bytes straight from the buffer.
    """
    if not _FAST:
        for i in indices:
            a = bytes(tree[64 * i + 32 : 64 * i + 64])
            b = bytes(tree[64 * i + 64 : 64 * i + 96])
            tree[32 * i : 32 * i + 32] = _eth_keccak(a + b if a < b else b + a)
        return
    state, _ = _sponge()
    base = _ffi.from_buffer("uint8_t[]", tree)
    reset: Callable[..., int] = _lib.keccak_reset
    absorb: Callable[..., int] = _lib.keccak_absorb
    digest: Callable[..., int] = _lib.keccak_digest
    for i in indices:
        left = 64 * i + 32
        reset(state)
        if tree[left : left + 32] <= tree[left + 32 : left + 64]:
            absorb(state, base + left, 64)
        else:
            absorb(state, base + left + 32, 32)
            absorb(state, base + left, 32)
        digest(state, base + 32 * i, 32, _KECCAK_PADDING)
    del base


def build_sorted_pair_tree(tree: bytearray, n_leaves: int) -> None:
    """Fill all inner nodes of a tree whose 2n−1 node buffer holds the leaves in its last n
    slots (OpenZeppelin's makeMerkleTree order: from the last inner node up to the root)."""
    if len(tree) != 32 * (2 * n_leaves - 1):
        raise ValueError("tree buffer size does not match the leaf count")
    hash_nodes(tree, range(n_leaves - 2, -1, -1))


def subtree_levels(n_leaves: int, root: int) -> list[tuple[int, int]]:
    """The inner nodes under (and including) node `root`, as inclusive index ranges, one per
    depth, deepest first — the order in which they can be computed. At depth k below `root`
    its descendants are the indices (root+1)·2^k − 1 … (root+2)·2^k − 2."""
    last_inner = n_leaves - 2
    levels = []
    k = 0
    while (root + 1) * 2**k - 1 <= last_inner:
        lo = (root + 1) * 2**k - 1
        levels.append((lo, min((root + 2) * 2**k - 2, last_inner)))
        k += 1
    return levels[::-1]


def build_subtree(tree: bytearray, n_leaves: int, root: int) -> None:
    """Fill the inner nodes of the subtree under node `root` (its leaves must be in place)."""
    for lo, hi in subtree_levels(n_leaves, root):
        hash_nodes(tree, range(hi, lo - 1, -1))
