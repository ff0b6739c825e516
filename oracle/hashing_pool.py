"""Hashing in a worker process, overlapped with validation.

Hashing is the largest single cost of building a report tree (two keccaks per record for the
leaf, one per inner node), and validation is the other. Keccak here runs on pycryptodome's C
sponge through cffi, which holds the GIL between calls, so threads would not overlap; a worker
process does. Validation streams each chunk of canonical records to the worker as soon as the
chunk is ready and keeps validating while the worker hashes. The inner nodes are left for the
end, where the worker builds the left half of the tree while the caller builds the right.
Records and leaves cross the process boundary as bytes, which pickle at memory speed.

A hasher starts its worker once (forkserver, so a threaded caller such as a scheduler is safe)
and is meant to live as long as the node that owns it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from oracle.keccak import build_subtree, double_keccak_many


def _hash_chunk(records: list[bytes]) -> bytes:
    return b"".join(double_keccak_many(records))


def _left_subtree(leaf_blob: bytes, n_leaves: int) -> bytes:
    nodes = bytearray(32 * (n_leaves - 1)) + leaf_blob
    build_subtree(nodes, n_leaves, 1)
    return bytes(nodes[: 32 * (n_leaves - 1)])


class LeafHasher:
    """A pool of leaf-hashing worker processes (one is right for a two-core machine)."""

    CHUNK = 8192

    def __init__(self, workers: int = 1) -> None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        # start the workers and import the hashing code now, not inside the first timed ingest
        for f in [self._pool.submit(_hash_chunk, [b""]) for _ in range(workers)]:
            f.result()

    def submit(self, records: list[bytes]) -> Future[bytes]:
        """Start hashing `records`; the future's result is their leaves, concatenated."""
        return self._pool.submit(_hash_chunk, records)

    def submit_left_subtree(self, leaf_blob: bytes, n_leaves: int) -> Future[bytes]:
        """Start computing the subtree under node 1 of a tree whose leaves, in tree order, are
        `leaf_blob`; the result is the inner-node region of the node array with that subtree
        filled in (the caller builds node 2's subtree meanwhile, then the root)."""
        return self._pool.submit(_left_subtree, leaf_blob, n_leaves)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LeafHasher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def split_leaves(blob: bytes) -> list[bytes]:
    """A concatenated leaf blob back into 32-byte leaves."""
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]
