"""What every event-handler module of the index shares (registry.events and the handlers
beside it, registry.compensation_index and registry.ticket_index), in a module of its own so
that none imports registry.events (which imports them): the indexer's one error, how chain
values become SQL values (64-bit integers, NUL-free text), and the entity tables' interface
the handlers write through."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection

from chain.abi import DecodedEvent

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BIGINT_MAX = 2**63 - 1


class IndexerError(RuntimeError):
    """The database cannot be brought in line with this chain and deployment."""


class Entities(Protocol):
    """An entity table of the block range being written (registry.events.Entities)."""

    def require(self, conn: Connection, ident: Any, event: DecodedEvent) -> dict[str, Any]: ...
    def create(self, ident: Any, row: dict[str, Any]) -> dict[str, Any]: ...


def sql_text(value: str) -> str:
    """On-chain strings may contain NUL, which PostgreSQL text cannot store."""
    return value.replace("\x00", "\ufffd")


def bigint(value: int) -> int | None:
    """The value if it fits the index's BIGINT columns, else None (the journal keeps it)."""
    return value if 0 <= value <= BIGINT_MAX else None


def units(value: int, what: str) -> int:
    """A quantity the index must hold exactly: beyond 64 bits the index cannot follow."""
    if not 0 <= value <= BIGINT_MAX:
        raise IndexerError(f"{what} {value} exceeds the index's 64-bit quantity range")
    return value
