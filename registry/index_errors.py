"""The indexer's one error, in a module of its own so that every event-handler module can
raise it without importing registry.events (which imports them)."""

from __future__ import annotations


class IndexerError(RuntimeError):
    """The database cannot be brought in line with this chain and deployment."""
