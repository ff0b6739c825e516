"""Operator actions on trades: failing a stuck trade by hand.

The worker fails a trade by itself when the contract refuses it (exchange/failures.py); this is
for what it cannot decide, e.g. a trade the operator knows must not settle (a disputed block
trade, an order signed under a compromised key). It is safe against the worker: the check that
the chain has not settled the trade (`Settlement.settled`) and the journal entry happen while
the worker is not settling (`ExchangeService.settling`), so no settlement of this trade can be in
flight. A trade the chain has settled is journaled as settled and refused.
"""

from __future__ import annotations

from typing import Any

from exchange.errors import ExchangeError
from exchange.onchain import SettlementChain
from exchange.service import ExchangeService

MAX_REASON = 200


def fail_trade(service: ExchangeService, chain: SettlementChain, trade_id: int,
               reason: str) -> dict[str, Any]:
    """Fails pending trade `trade_id` with the operator's reason (journaled as
    `settle_failed`; both sides' reservations are released); returns the trade's view."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ExchangeError("invalid_reason", f"say why, in 1 to {MAX_REASON} characters")
    with service.settlement.settling:
        t = service.reads.trade(trade_id)
        if t is None:
            old = service.reads.archived_trade(trade_id)
            if old is None:
                raise ExchangeError("unknown_trade", f"trade {trade_id} does not exist")
            raise ExchangeError("trade_not_pending", f"the trade is {old['settlement']}",
                                {"settlement": old["settlement"]})
        if t.status != "pending":
            raise ExchangeError("trade_not_pending", f"the trade is {t.status}",
                                {"settlement": t.status, "reason": t.reason})
        if chain.is_settled(trade_id):
            tx_hash = chain.settlement_txs([trade_id]).get(trade_id, "")
            service.settlement.mark_settled([trade_id], tx_hash)
            raise ExchangeError("trade_settled_on_chain", "the chain has settled this "
                                "trade; it is now journaled as settled", {"tx_hash": tx_hash})
        service.settlement.mark_failed([trade_id], f"operator: {reason}")
        failed = service.reads.trade(trade_id)
        assert failed is not None  # still in memory: it was pending a moment ago
        return failed.view()
