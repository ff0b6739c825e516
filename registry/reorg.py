"""Noticing that the chain went backwards or changed, and rewinding the index to where it agrees.

A chain reorganises (a production network behind a load balancer, a node restored from a
backup) and an embedded anvil can restart from a stale state: blocks the index was built from
disappear, and new blocks may reuse their numbers. The index notices through block hashes: it
stores the hash of the last block of every applied range and of a few blocks with logs below it,
1, 2, 4, 8, ... blocks down (`index_blocks`, kept for the last HASH_HISTORY_BLOCKS blocks): a
handful of rows per range however many logs it has, dense near the head where the index follows
the chain a few blocks per range, and enough to place a fork to within about its own depth
anywhere. A block hash commits to its
parent's, so a stored hash the chain still has at that height vouches for every block below it,
and one it no longer has (or a head below the indexed block) means the index is ahead of or
off the chain.

The fork point is the highest stored block whose hash the chain still has, found by galloping
down the stored blocks and then bisecting (one eth_getBlockByNumber per probe, a handful for a
shallow reorganisation). When no stored hash matches (a fork deeper than the kept history),
the index rewinds to before the deployment and is rebuilt from the chain: slower, still right.

Rewinding to block `b` deletes everything derived from blocks after `b`, in one transaction
together with the cursor, by a method chosen per kind of table:

- rows appended per log (event_journal, transfers, retirements, buffer_cancellations,
  attestations) and stored hashes carry their block number: delete those after `b`;
- balances are sums of transfers: subtract the deleted transfers per (account, batch) before
  deleting them, exact in integers, and drop the rows that come back to zero;
- entities that events overwrite (members, methodologies, projects, reports, batches: their
  status, roles, freezes, submission counts, retired and cancelled totals) cannot be
  subtracted, so they are rebuilt: the journal's entity events up to `b` are replayed in
  memory through the same handlers as the forward path, and only the rows that differ are
  written (rows created after `b` are deleted, children first).

Why not rebuild everything from the journal: transfers are nearly all of the events, so a
rewind would cost the whole history however shallow the reorganisation; subtracting them costs
only the rewound blocks, and entity events are few. Why not undo records per range: they would
be written on every range of the forward path to serve a rare rewind. The journal already keeps
every applied log's decoded arguments, block timestamp, transaction hash and address, which is
all the handlers read, so the replay needs no node.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, select, update

from chain.abi import DecodedEvent
from registry.events import (
    ENTITY_EVENTS,
    HANDLERS,
    ZERO_ADDRESS,
    Entities,
    RangeWriter,
    upsert_balances,
)
from registry.models import (
    Attestation,
    Balance,
    BufferCancellation,
    EventJournal,
    IndexedBlock,
    OrderEvent,
    OrderRetirement,
    OrderTicketRetirement,
    Retirement,
    Transfer,
    table,
)

log = logging.getLogger(__name__)

# Blocks below the cursor whose hashes are kept (a few rows per applied range); a fork deeper
# than this is still handled, by a rebuild from the deployment block, only slower.
HASH_HISTORY_BLOCKS = 100_000

# Journal rows replayed per query while rebuilding entities.
REPLAY_CHUNK = 5_000


# -- stored hashes -------------------------------------------------------------------------


def ladder(to_block: int, block_hash: str, carried: Mapping[int, str]) -> dict[int, str]:
    """The hashes to store for a range ending at `to_block`: its own, and of the blocks with
    logs nearest below to_block - 1, - 2, - 4, - 8, ... (their hashes came with the logs). A
    handful of rows per range, however many logs, and a fork is still located to within about
    its own depth. Refuses logs whose hash for `to_block` is not `block_hash` (the chain moved
    between the two reads: the range is read again)."""
    if carried.get(to_block, block_hash) != block_hash:
        raise RuntimeError(
            f"block {to_block} changed while its range was read (the chain is reorganising); "
            "retrying"
        )
    out = {to_block: block_hash}
    numbers = sorted(carried)
    step = 1
    i = len(numbers)
    while i > 0 and step <= to_block:
        i = bisect.bisect_right(numbers, to_block - step, 0, i)
        if i == 0:
            break
        out[numbers[i - 1]] = carried[numbers[i - 1]]
        step *= 2
    return out


def record_hashes(
    conn: Connection, from_block: int, to_block: int, hashes: Mapping[int, str], cursor: int
) -> None:
    """Stores the hashes read for blocks from_block..to_block (replacing what an earlier read of
    those blocks stored) and prunes those older than HASH_HISTORY_BLOCKS below `cursor`."""
    t = table(IndexedBlock)
    conn.execute(delete(t).where(t.c.block_number.between(from_block, to_block)))
    rows = [{"block_number": n, "block_hash": h} for n, h in sorted(hashes.items())]
    if rows:
        conn.execute(insert(t), rows)
    conn.execute(delete(t).where(t.c.block_number < cursor - HASH_HISTORY_BLOCKS))


def stored_hash(conn: Connection, block: int) -> str | None:
    t = table(IndexedBlock)
    return conn.execute(
        select(t.c.block_hash).where(t.c.block_number == block)
    ).scalar_one_or_none()


def stored_hashes(conn: Connection, at_most: int) -> list[tuple[int, str]]:
    """Stored (block, hash) pairs up to block `at_most`, highest first."""
    t = table(IndexedBlock)
    return [
        (int(n), str(h))
        for n, h in conn.execute(
            select(t.c.block_number, t.c.block_hash)
            .where(t.c.block_number <= at_most)
            .order_by(t.c.block_number.desc())
        )
    ]


def fork_point(
    stored: Sequence[tuple[int, str]], chain_hash: Callable[[int], str | None]
) -> int | None:
    """The highest stored block (in `stored`, highest first) whose hash the chain still has,
    or None if it has none of them. Probes 1, 2, 4, ... stored blocks down, then bisects the
    last step (a matching hash implies every block below it matches)."""
    def agrees(i: int) -> bool:
        number, expected = stored[i]
        return chain_hash(number) == expected

    if not stored:
        return None
    bad, step = -1, 1  # stored[bad] disagrees (-1: nothing probed yet)
    i = 0
    while not agrees(i):
        bad = i
        if i == len(stored) - 1:
            return None
        i = min(i + step, len(stored) - 1)
        step *= 2
    good = i  # stored[good] agrees; everything in (bad, good) is unknown
    while good - bad > 1:
        mid = (bad + good) // 2
        if agrees(mid):
            good = mid
        else:
            bad = mid
    return stored[good][0]


# -- the rewind ----------------------------------------------------------------------------


def rewind(conn: Connection, keep_to: int, contract_of: Mapping[str, str]) -> int:
    """Deletes everything derived from blocks after `keep_to` (see the module docstring), in
    the caller's transaction; the caller moves the cursor. Returns the number of journal rows
    removed."""
    _subtract_transfers(conn, keep_to)
    for model in (Transfer, Retirement, BufferCancellation, Attestation, OrderEvent,
                  OrderRetirement, OrderTicketRetirement, IndexedBlock):
        t = table(model)
        conn.execute(delete(t).where(t.c.block_number > keep_to))
    _rebuild_entities(conn, keep_to, contract_of)
    j = table(EventJournal)
    removed = conn.execute(delete(j).where(j.c.block_number > keep_to)).rowcount
    return int(removed)


def _subtract_transfers(conn: Connection, keep_to: int) -> None:
    t = table(Transfer)
    deltas: dict[tuple[str, int], int] = defaultdict(int)
    after = t.c.block_number > keep_to
    for side, sign in ((t.c.to_address, -1), (t.c.from_address, 1)):
        for address, batch_id, amount in conn.execute(
            select(side, t.c.batch_id, func.sum(t.c.amount)).where(after)
            .group_by(side, t.c.batch_id)
        ):
            if address != ZERO_ADDRESS:
                deltas[(address, int(batch_id))] += sign * int(amount)
    upsert_balances(conn, deltas)
    b = table(Balance)
    touched = [{"a": a, "b": bid} for a, bid in sorted(deltas)]
    if touched:
        conn.execute(
            delete(b).where(
                and_(b.c.address == bindparam("a"), b.c.batch_id == bindparam("b"),
                     b.c.amount == 0)
            ),
            touched,
        )


def _rebuild_entities(conn: Connection, keep_to: int, contract_of: Mapping[str, str]) -> None:
    writer = RangeWriter(conn, complete=True)
    j = table(EventJournal)
    names = sorted({name for _, name in ENTITY_EVENTS})
    query = (
        select(j.c.block_number, j.c.log_index, j.c.block_timestamp, j.c.tx_hash, j.c.address,
               j.c.name, j.c.args)
        .where(j.c.block_number <= keep_to, j.c.name.in_(names))
        .order_by(j.c.block_number, j.c.log_index)
    )
    after: tuple[int, int] = (-1, -1)
    while True:
        rows = conn.execute(
            query.where(
                (j.c.block_number > after[0])
                | and_(j.c.block_number == after[0], j.c.log_index > after[1])
            ).limit(REPLAY_CHUNK)
        ).all()
        for number, index, ts, tx_hash, address, name, args in rows:
            key = (contract_of.get(address, ""), name)
            if key in ENTITY_EVENTS:
                ev = DecodedEvent(name, address, args, int(number), tx_hash, int(index))
                HANDLERS[key](writer, ev, int(ts))
        writer.discard_rows()
        if len(rows) < REPLAY_CHUNK:
            break
        after = (int(rows[-1][0]), int(rows[-1][1]))
    gone: dict[str, list[Any]] = {}
    for entities in writer.entities():  # parents first: inserts and updates
        gone[entities.table.name] = _write_differences(conn, entities)
    b = table(Balance)
    if gone["batches"]:
        conn.execute(delete(b).where(b.c.batch_id.in_(gone["batches"])))
    for entities in reversed(writer.entities()):  # children first: deletes
        keys = gone[entities.table.name]
        if keys:
            column = entities.table.c[entities.key]
            conn.execute(delete(entities.table).where(column.in_(keys)))


def _write_differences(conn: Connection, entities: Entities) -> list[Any]:
    """Makes the table's rows equal `entities.rows` except for deletions, which it returns."""
    t: Table = entities.table
    current = {
        row[entities.key]: dict(row) for row in conn.execute(select(t)).mappings()
    }
    wanted = entities.rows
    missing = [wanted[k] for k in sorted(set(wanted) - set(current))]
    if missing:
        conn.execute(insert(t), missing)
    changed = sorted(k for k in set(wanted) & set(current) if wanted[k] != current[k])
    if changed:
        cols = [c.name for c in t.columns if c.name != entities.key]
        stmt = update(t).where(t.c[entities.key] == bindparam("_key"))
        conn.execute(stmt, [{"_key": k, **{c: wanted[k][c] for c in cols}} for k in changed])
    return sorted(set(current) - set(wanted))
