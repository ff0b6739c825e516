"""Wiring the exchange to a deployment: balances read from the chain, the service, the worker."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from exchange.balances import Balances
from exchange.freezes import chain_cache
from exchange.onchain import SettlementChain
from exchange.records import MemberLimits
from exchange.reservations import SharedReservations
from exchange.service import ExchangeService
from exchange.settlement_worker import SettlementWorker
from registry.ledger import Ledger

log = logging.getLogger("tanhui.exchange")


@dataclass
class Exchange:
    service: ExchangeService
    worker: SettlementWorker
    chain: SettlementChain
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start_worker(self, interval: float = 0.5) -> None:
        self._thread = threading.Thread(target=self.worker.run, args=(self._stop, interval),
                                        name="settlement", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.service.close()


def open_exchange(ledger: Ledger, directory: Path, settler: LocalAccount,
                  balance_ttl: float = 1.0, batch_size: int = 100,
                  limits: MemberLimits | None = None,
                  shared: SharedReservations | None = None) -> Exchange:
    """The exchange over one deployment; its journal and snapshots live in `directory`.
    `shared`: the table through which API processes that do not run the exchange see its
    reservations (exchange/reservations.py)."""
    sc = SettlementChain(ledger)
    taker_bps = int(sc.chain.call(sc.settlement.functions.takerFeeBps()))
    maker_bps = int(sc.chain.call(sc.settlement.functions.makerFeeBps()))
    balances = Balances(sc.credit_balance, sc.cash_balance, sc.trading_approved, balance_ttl,
                        tickets=sc.ticket_balance, tickets_ready=sc.tickets_approved)
    service = ExchangeService(directory, sc.domain, balances,
                              taker_fee_bps=max(taker_bps, maker_bps), limits=limits,
                              eligible=sc.eligible_batches,
                              freezes=chain_cache(sc, balance_ttl))
    if shared is not None:
        service.share_reservations(shared)
    service.settlement.follow_chain_from(ledger.deployment.block)  # cancels, freezes: all
    worker = SettlementWorker(service.settlement, sc, settler, batch_size)
    try:  # before any order is taken: settlements the chain lost are pending again
        worker.reconcile(force=True)
    except Exception:  # the node is unreachable: the worker's loop tries again
        log.exception("reconciling settlements on start failed")
    return Exchange(service, worker, sc)
