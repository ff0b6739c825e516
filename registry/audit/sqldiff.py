"""The chain against an SQL index: which rows the index lacks, has in excess, or has different.

The auditor does not read the index to learn the truth: it builds its own index of the chain
into a throw-away SQLite database (the same event handlers, registry.events, fed only by the
node) up to the block the index under audit says it reached, and compares every table row by
row on its primary key. A row edited in the database behind the indexer's back, deleted or
invented, shows up here while the chain-only checks still pass."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select

from chain.client import Chain
from chain.deploy import Deployment
from core.db import make_engine, migrate
from registry.indexer import Indexer
from registry.models import INDEX_TABLES, IndexCursor

# Bookkeeping of how the index was built (which block hashes, the cursor) rather than what the
# chain says; the cursor's position is compared on its own.
SKIPPED = frozenset({"index_blocks", "index_cursor"})
SAMPLE = 20  # keys shown per kind of difference and table


@dataclass
class TableDiff:
    table: str
    missing: list[Any] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)
    different: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.different)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "missing": len(self.missing), "extra": len(self.extra),
                "different": len(self.different), "missing_keys": self.missing[:SAMPLE],
                "extra_keys": self.extra[:SAMPLE], "differences": self.different[:SAMPLE]}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _rows(engine: Engine, t: Table) -> dict[Any, dict[str, Any]]:
    keys = [c.name for c in t.primary_key.columns]
    out: dict[Any, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(t)).mappings():
            values = {k: _canonical(v) for k, v in row.items()}
            if t.name == "balances" and values.get("amount") == 0:
                continue  # a balance back at zero may or may not keep its row
            key = values[keys[0]] if len(keys) == 1 else tuple(values[k] for k in keys)
            out[key] = values
    return out


def indexed_to(engine: Engine) -> int | None:
    with engine.connect() as conn:
        nxt = conn.execute(select(IndexCursor.next_block)).scalar_one_or_none()
    return None if nxt is None else int(nxt) - 1


def diff_tables(expected: Engine, actual: Engine) -> list[TableDiff]:
    """Every index table of `actual` against `expected`, row by row."""
    out: list[TableDiff] = []
    for t in INDEX_TABLES:
        if t.name in SKIPPED:
            continue
        want, have = _rows(expected, t), _rows(actual, t)
        d = TableDiff(t.name)
        d.missing = sorted((k for k in want if k not in have), key=repr)
        d.extra = sorted((k for k in have if k not in want), key=repr)
        for k in sorted((k for k in want if k in have), key=repr):
            cols = {c: {"chain": want[k][c], "index": have[k].get(c)}
                    for c in want[k] if want[k][c] != have[k].get(c)}
            if cols:
                d.different.append({"key": k if not isinstance(k, tuple) else list(k),
                                    "columns": cols})
        out.append(d)
    return out


def diff_index(chain: Chain, deployment: Deployment, db_url: str) -> dict[str, Any]:
    """The chain against the SQL index at `db_url` (which is only read)."""
    actual = make_engine(db_url)
    try:
        to_block = indexed_to(actual)
        if to_block is None:
            return {"indexed_to": None, "clean": False, "tables": [],
                    "message": "the database has no index cursor: it was never indexed"}
        with tempfile.TemporaryDirectory(prefix="tanhui-audit-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'chain.db'}"
            migrate(url)
            expected = make_engine(url)
            try:
                Indexer(chain, deployment, expected).sync(to_block)
                tables = diff_tables(expected, actual)
            finally:
                expected.dispose()
    finally:
        actual.dispose()
    return {"indexed_to": to_block, "clean": all(t.clean for t in tables),
            "tables": [t.to_json() for t in tables if not t.clean]}
