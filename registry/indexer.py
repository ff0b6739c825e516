"""Follows the registry of record (the contracts) into SQL.

The indexer reads the logs of every deployed contract with eth_getLogs, block range by block
range, and applies each range in ONE database transaction together with the cursor that says
where to resume. A crash at any point therefore leaves the database at a range boundary, and a
restart continues from there. Every applied log is written to `event_journal` under its
(block_number, log_index): a log that is delivered twice (a replayed range, a flaky node) finds
its key there and is skipped, so applying the same logs again changes nothing.

The index follows the chain backwards too (registry.reorg). Each applied range also stores the
hash of its last block and of a few blocks below it that its logs came from; every poll checks
the stored hash of the cursor's block against the chain, and every range checks the block
below it. When the chain no longer has that block (its head went below the cursor, or another
block stands at that height), the index is rewound to the highest stored block the chain still
has, deleting everything derived from later blocks, and indexing resumes from there. A rewind
is one transaction with the cursor, like a range: a crash during one leaves the index as it
was, and the next poll finds the same fork and rewinds again. The last block's hash is read
before the range's logs and before the check of the block below: a reorganisation while a
range is read then leaves a stored hash the chain does not have (caught now or at the next
poll), never rows of one fork under the hash of another. Logs of one block that carry
different hashes, or another hash for the range's last block, make the range fail and be read
again.

Throughput comes from doing per range what can be done per range: rows are collected in memory
and written with executemany inserts, balance changes are summed per (account, batch) and
upserted once, and the few entities that events update (batches, reports, members, ...) are
loaded once per range, changed in memory and written back once. The hash bookkeeping is per
range too: two eth_getBlockByNumber calls (the range's last block and the one below it) and
one insert of a handful of hashes (the range end's, and some the logs already carried).

Run standalone: `python -m registry.indexer --rpc URL --deployment FILE --db URL`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, insert, select, update
from web3.types import RPCEndpoint

from chain.abi import EventDecoder
from chain.client import Chain
from chain.deploy import Deployment
from core.logs import configure_logging
from registry.events import HANDLERS, IndexerError, RangeWriter
from registry.models import EventJournal, IndexCursor, table
from registry.reorg import (
    fork_point,
    ladder,
    record_hashes,
    rewind,
    stored_hash,
    stored_hashes,
)

__all__ = ["Indexer", "IndexerError", "main"]

log = logging.getLogger(__name__)

def _as_int(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


class Indexer:
    """Brings the SQL index up to the chain head (less `confirmations`), `batch_blocks` blocks
    per database transaction. Safe to stop at any moment and to run over the same blocks twice.
    """

    def __init__(
        self,
        chain: Chain,
        deployment: Deployment,
        engine: Engine,
        batch_blocks: int = 2000,
        confirmations: int = 0,
    ) -> None:
        if batch_blocks < 1:
            raise ValueError("batch_blocks must be at least 1")
        if confirmations < 0:
            raise ValueError("confirmations must not be negative")
        self.chain = chain
        self.deployment = deployment
        self.engine = engine
        self.batch_blocks = batch_blocks
        self.confirmations = confirmations
        self.decoder = EventDecoder(deployment.abis.values(), lenient_strings=True)
        checksummed: dict[str, str] = {
            str(to_checksum_address(rec.address)): name
            for name, rec in deployment.contracts.items()
        }
        self.addresses = sorted(checksummed)
        # Raw log addresses may come checksummed (web3) or lowercase (plain JSON-RPC).
        self.contract_of: dict[str, str] = {
            **checksummed,
            **{a.lower(): n for a, n in checksummed.items()},
        }
        self.credits_address = to_checksum_address(deployment.address("CarbonCredits"))
        self._timestamps: dict[int, int] = {}
        self._stop: threading.Event | None = None

    # -- public ---------------------------------------------------------------------------

    def sync(self, to_block: int | None = None) -> int:
        """Indexes from the cursor up to `to_block` (default and at most: head - confirmations),
        first rewinding the index if the chain no longer has the block it was indexed to.

        Returns the number of events applied (events already in the journal do not count).
        """
        chain_head = int(self.chain.w3.eth.block_number)
        head = chain_head - self.confirmations
        target = head if to_block is None else min(to_block, head)
        start = self._next_block()
        applied = 0
        rewound = False
        while True:
            if self._stop is not None and self._stop.is_set():
                break
            if start > target:
                if not self._agrees(start - 1, chain_head):
                    if rewound:  # the chain is still moving: look again at the next poll
                        break
                    start, rewound = self._rewind(start, chain_head, head), True
                    continue
                self._touch_head(head)
                break
            end = min(start + self.batch_blocks - 1, target)
            # The range's last hash is read before the check of the block below the range and
            # before its logs: a reorganisation in between then shows as a stored hash the
            # chain does not have, now or at the next poll, never as a consistent-looking mix.
            end_hash = self._block_hash(end)
            if end_hash is None:  # the chain went backwards since eth_blockNumber
                break
            if not self._agrees(start - 1, chain_head):
                if rewound:
                    break
                start, rewound = self._rewind(start, chain_head, head), True
                continue
            applied += self.apply(start, end, self._fetch(start, end), head=head,
                                  block_hash=end_hash)
            start = end + 1
        return applied

    def replay(self, from_block: int, to_block: int) -> int:
        """Reads blocks from_block..to_block again and applies what the journal lacks; fills
        gaps, never moves the cursor back (but rewinds it first if the chain no longer has the
        indexed block, so old blocks are never read from another fork into the index). Returns
        the number of events applied."""
        chain_head = int(self.chain.w3.eth.block_number)
        next_block = self._next_block()
        if not self._agrees(next_block - 1, chain_head):
            self._rewind(next_block, chain_head, chain_head - self.confirmations)
        applied = 0
        start = from_block
        while start <= to_block:
            end = min(start + self.batch_blocks - 1, to_block)
            end_hash = self._block_hash(end)
            if end_hash is None:
                raise RuntimeError(f"block {end} is not on the chain (head {chain_head})")
            applied += self.apply(start, end, self._fetch(start, end), block_hash=end_hash)
            start = end + 1
        return applied

    def apply(
        self,
        from_block: int,
        to_block: int,
        logs: Iterable[Mapping[str, Any]],
        head: int | None = None,
        block_hash: str | None = None,
    ) -> int:
        """Applies raw logs of blocks from_block..to_block and moves the cursor past to_block,
        all in one transaction, with the hashes of to_block (`block_hash`, read from the chain
        if not given) and of every block the logs come from. Logs already journaled, removed
        (reorged-out) logs, logs outside the range, logs of other contracts and duplicates are
        skipped. Returns the number of events applied."""
        raw = sorted(
            (
                lg
                for lg in logs
                if not lg.get("removed") and from_block <= _as_int(lg["blockNumber"]) <= to_block
            ),
            key=lambda lg: (_as_int(lg["blockNumber"]), _as_int(lg["logIndex"])),
        )
        if block_hash is None:
            block_hash = self._block_hash(to_block)
            if block_hash is None:
                raise RuntimeError(f"block {to_block} is not on the chain")
        hashes = ladder(to_block, block_hash, _hashes_of_logs(raw))
        with self.engine.begin() as conn:
            cursor = self._lock_cursor(conn)
            j = table(EventJournal)
            seen: set[tuple[int, int]] = {
                (int(b), int(i))
                for b, i in conn.execute(
                    select(j.c.block_number, j.c.log_index).where(
                        j.c.block_number.between(from_block, to_block)
                    )
                )
            }
            writer = RangeWriter(conn)
            for lg in raw:
                key = (_as_int(lg["blockNumber"]), _as_int(lg["logIndex"]))
                if key in seen:
                    continue
                seen.add(key)
                contract = self.contract_of.get(_hex(lg["address"]))
                if contract is None:
                    continue
                ev = self.decoder.decode(dict(lg))
                if ev is None:
                    log.warning("unknown event topic at block %s log %s", *key)
                    continue
                ts = self._timestamp(lg)
                writer.journal.append(
                    {
                        "block_number": ev.block_number,
                        "log_index": ev.log_index,
                        "block_timestamp": ts,
                        "tx_hash": ev.tx_hash,
                        "address": ev.address,
                        "name": ev.name,
                        "args": ev.args,
                    }
                )
                handler = HANDLERS.get((contract, ev.name))
                if handler is not None:
                    handler(writer, ev, ts)
            writer.flush()
            applied = len(writer.journal)
            next_block = max(int(cursor["next_block"]), to_block + 1)
            record_hashes(conn, from_block, to_block, hashes, next_block)
            c = table(IndexCursor)
            conn.execute(
                update(c)
                .where(c.c.chain_id == cursor["chain_id"])
                .values(
                    next_block=next_block,
                    head_block=max(int(cursor["head_block"]), head if head is not None else 0),
                    events=int(cursor["events"]) + applied,
                )
            )
        self._timestamps.clear()
        return applied

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Follows the chain until `stop` is set; errors are logged and retried with back-off,
        so a node or database outage pauses the index instead of ending it."""
        self._stop = stop
        backoff = poll_seconds
        try:
            while not stop.is_set():
                try:
                    self.sync()
                    backoff = poll_seconds
                except IndexerError:
                    log.exception("indexer stopped: the index does not match the chain")
                    raise
                except Exception:
                    log.exception("indexer sync failed; retrying in %.1f s", backoff)
                    stop.wait(backoff)
                    backoff = min(max(backoff * 2, 0.1), 30.0)
                    continue
                stop.wait(poll_seconds)
        finally:
            self._stop = None

    # -- internals ------------------------------------------------------------------------

    def _block_hash(self, number: int) -> str | None:
        """The chain's hash of block `number`, or None if the chain has no such block (read as
        plain JSON: no web3 block formatter, which also rejects QBFT's long extraData)."""
        block = self.chain.rpc("eth_getBlockByNumber", hex(number), False)
        return None if block is None else str(block["hash"]).lower()

    def _agrees(self, indexed_to: int, chain_head: int) -> bool:
        """Whether the chain still has the block the index was built up to (by its stored
        hash). An index migrated from before hashes were kept has none for its cursor block:
        it adopts the chain's hash if the last transaction it journaled is still on the chain
        in the same block (else it is off the chain, and is rebuilt), and checks every block
        from then on."""
        if indexed_to < self.deployment.block:
            return True  # nothing indexed yet
        if indexed_to > chain_head:
            return False
        with self.engine.connect() as conn:
            expected = stored_hash(conn, indexed_to)
        actual = self._block_hash(indexed_to)
        if actual is None:
            return False
        if expected is None:
            if not self._last_journaled_transaction_is_on_chain(indexed_to):
                return False
            with self.engine.begin() as conn:
                cursor = self._lock_cursor(conn)
                if int(cursor["next_block"]) == indexed_to + 1:
                    record_hashes(conn, indexed_to, indexed_to, {indexed_to: actual},
                                  indexed_to + 1)
            return True
        return expected == actual

    def _last_journaled_transaction_is_on_chain(self, indexed_to: int) -> bool:
        j = table(EventJournal)
        with self.engine.connect() as conn:
            last = conn.execute(
                select(j.c.block_number, j.c.tx_hash)
                .where(j.c.block_number <= indexed_to)
                .order_by(j.c.block_number.desc(), j.c.log_index.desc())
                .limit(1)
            ).one_or_none()
        if last is None:
            return True
        receipt = self.chain.rpc("eth_getTransactionReceipt", last.tx_hash)
        return receipt is not None and _as_int(receipt["blockNumber"]) == int(last.block_number)

    def _rewind(self, next_block: int, chain_head: int, head: int) -> int:
        """Rewinds the index to the highest stored block the chain still has (before the
        deployment if none) in one transaction with the cursor, unless another indexer moved
        the cursor meanwhile. Returns the block to index next."""
        with self.engine.connect() as conn:
            stored = stored_hashes(conn, min(next_block - 1, chain_head))
        keep_to = fork_point(stored, self._block_hash)
        if keep_to is None:
            keep_to = self.deployment.block - 1
        if keep_to >= next_block - 1:  # the chain came back to the indexed block meanwhile
            return next_block
        with self.engine.begin() as conn:
            cursor = self._lock_cursor(conn)
            if int(cursor["next_block"]) != next_block:
                return int(cursor["next_block"])
            removed = rewind(conn, keep_to, self.contract_of)
            c = table(IndexCursor)
            conn.execute(
                update(c)
                .where(c.c.chain_id == cursor["chain_id"])
                .values(
                    next_block=keep_to + 1,
                    head_block=head,
                    events=int(cursor["events"]) - removed,
                    rewinds=int(cursor["rewinds"]) + 1,
                    rewound_to_block=keep_to,
                )
            )
        log.warning(
            "the chain no longer has indexed block %s (head %s): index rewound to block %s, "
            "%s events removed", next_block - 1, chain_head, keep_to, removed,
        )
        return keep_to + 1

    def _fetch(self, start: int, end: int) -> list[dict[str, Any]]:
        """eth_getLogs for all deployed contracts, read as plain JSON: web3's result formatters
        cost ten times the request itself at this volume. A range the node refuses (too many
        results) is split in halves."""
        params = {"fromBlock": hex(start), "toBlock": hex(end), "address": self.addresses}
        resp = self.chain.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
        if "error" in resp:
            if start == end:
                raise RuntimeError(f"eth_getLogs {start}: {resp['error']}")
            mid = (start + end) // 2
            log.info("eth_getLogs refused blocks %s-%s (%s); splitting", start, end, resp["error"])
            return self._fetch(start, mid) + self._fetch(mid + 1, end)
        return [_plain_log(lg) for lg in resp["result"]]

    def _timestamp(self, lg: Mapping[str, Any]) -> int:
        ts = lg.get("blockTimestamp")
        if ts is not None:
            return _as_int(ts)
        number = _as_int(lg["blockNumber"])
        cached = self._timestamps.get(number)
        if cached is None:
            block = self.chain.w3.eth.get_block(number)
            cached = self._timestamps[number] = int(block["timestamp"])
        return cached

    def _next_block(self) -> int:
        with self.engine.begin() as conn:
            return int(self._lock_cursor(conn)["next_block"])

    def _touch_head(self, head: int) -> None:
        c = table(IndexCursor)
        with self.engine.begin() as conn:
            cursor = self._lock_cursor(conn)
            if head > int(cursor["head_block"]):
                conn.execute(
                    update(c).where(c.c.chain_id == cursor["chain_id"]).values(head_block=head)
                )

    def _lock_cursor(self, conn: Connection) -> dict[str, Any]:
        """The cursor row (created at the deployment block on first use), locked for the rest
        of the transaction where the database supports it. Refuses a database that indexes
        another chain or deployment: mixing them would corrupt every table."""
        c = table(IndexCursor)
        rows = conn.execute(select(c).with_for_update()).mappings().all()
        chain_id = self.deployment.chain_id
        for found in rows:
            if (int(found["chain_id"]), found["registry_address"]) != (
                chain_id,
                self.credits_address,
            ):
                raise IndexerError(
                    f"database indexes chain {found['chain_id']} registry "
                    f"{found['registry_address']}, not chain {chain_id} registry "
                    f"{self.credits_address}; use a fresh database"
                )
        if rows:
            return dict(rows[0])
        row: dict[str, Any] = {
            "chain_id": chain_id,
            "registry_address": self.credits_address,
            "next_block": self.deployment.block,
            "head_block": self.deployment.block - 1,
            "events": 0,
        }
        conn.execute(insert(c).values(**row))
        return row


def _plain_log(lg: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC log with the fields the decoder reads as bytes and ints."""
    out = dict(lg)
    out["topics"] = [bytes.fromhex(t[2:]) for t in lg["topics"]]
    out["data"] = bytes.fromhex(lg["data"][2:])
    out["blockNumber"] = int(lg["blockNumber"], 16)
    out["logIndex"] = int(lg["logIndex"], 16)
    return out


def _hashes_of_logs(raw: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """The block hash each block's logs carry. Logs of one block that carry different hashes
    were read across a reorganisation: the range fails, to be read again."""
    hashes: dict[int, str] = {}
    for lg in raw:
        carried = lg.get("blockHash")
        if carried is None:
            continue
        number = _as_int(lg["blockNumber"])
        block_hash = carried.lower() if isinstance(carried, str) else _hex(carried)
        if hashes.setdefault(number, block_hash) != block_hash:
            raise RuntimeError(
                f"block {number} changed while its logs were read (the chain is "
                "reorganising); retrying"
            )
    return hashes


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    return str(value)


# -- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the indexer against a JSON-RPC endpoint and a database until interrupted (or, with
    --once, until the head is reached). Migrates the database first."""
    from chain.compile import compile_contracts
    from chain.deploy import error_abis
    from core.db import make_engine, migrate

    p = argparse.ArgumentParser(prog="python -m registry.indexer", description=__doc__)
    p.add_argument("--rpc", required=True, help="JSON-RPC URL of the chain")
    p.add_argument("--deployment", required=True, type=Path, help="deployment record (JSON)")
    p.add_argument("--db", required=True, help="database URL (sqlite:///... or postgresql://...)")
    p.add_argument("--batch-blocks", type=int, default=2000)
    p.add_argument("--confirmations", type=int, default=0)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between polls at the head")
    p.add_argument("--once", action="store_true", help="sync to the head and exit")
    args = p.parse_args(argv)
    configure_logging("indexer")

    artifacts = compile_contracts()
    deployment = Deployment.load(args.deployment, artifacts)
    chain = Chain(args.rpc, error_abis(artifacts))
    migrate(args.db)
    engine = make_engine(args.db)
    indexer = Indexer(chain, deployment, engine, args.batch_blocks, args.confirmations)
    try:
        if args.once:
            started = time.monotonic()
            n = indexer.sync()
            print(json.dumps({"events": n, "seconds": round(time.monotonic() - started, 3)}))
            return 0
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        indexer.run(stop, args.poll)
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
