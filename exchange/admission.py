"""Order admission: what a signed order must pass before it is journaled.

    signed order ─► verify (signature, trader spelling) ─► held (chain reads, before the lock)
        ─► check (expiry, freezes, nonces, fee cap, session, bands) ─► risk.check ─► journal

One place for every refusal an order can get at entry, each an `ExchangeError` with a stable
code (errors.py); the service calls `verify` and `held` before taking its lock, so a slow node
never stalls other orders, and `check` under it, so the state it reads cannot change between
the check and the journal write. Nothing here changes state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from core.units import UNITS_PER_TONNE
from exchange.archive import Archive
from exchange.balances import Balances
from exchange.errors import ExchangeError
from exchange.expiry import expires_by
from exchange.freezes import FreezeCache, refusal
from exchange.instruments import InstrumentClass, Status, check_order, in_session
from exchange.orders import Side
from exchange.records import Held, Listing
from exchange.risk import Risk
from exchange.signing import Domain, Order, order_digest, recover_signer
from exchange.state import ExchangeState


class Admission:
    """The entry checks of one exchange, over its state, risk, balances and archive."""

    def __init__(self, state: ExchangeState, risk: Risk, archive: Archive, domain: Domain,
                 balances: Balances, freezes: FreezeCache | None,
                 eligible: Callable[[InstrumentClass], list[int]],
                 clock: Callable[[], float] = time.time) -> None:
        self.state, self.risk, self.archive, self.domain = state, risk, archive, domain
        self.balances, self.freezes, self.eligible, self.clock = (balances, freezes, eligible,
                                                                  clock)

    def verify(self, order: Order, signature: bytes,
               message: str = "the signature is not the trader's") -> tuple[Order, bytes]:
        """(the order with its trader spelled as the checksummed signer, its EIP-712 hash);
        refused unless its trader signed it. Reservations, limits and client order ids are
        keyed by the trader string, so every spelling of an address must become one."""
        digest = order_digest(order, self.domain)
        signer = recover_signer(order, signature, self.domain, digest)
        if signer is None or signer.lower() != order.trader.lower():
            raise ExchangeError("bad_signature", message)
        return (order if order.trader == signer else replace(order, trader=signer)), digest

    def refuse_used(self, digest: bytes) -> None:
        """A signed order is used once (a block trade's or a lot's, checked here; a book
        order's replay is answered idempotently instead, service.py)."""
        if digest in self.state.by_digest or self.archive.has_digest(digest):
            raise ExchangeError("duplicate_order", "this order was already used")

    def held(self, order: Order, listing: Listing) -> Held:
        """What the chain says the trader holds for this order: approval for settlement, and
        cash for a buy or, for a sell, credits of the batch it signed to deliver (on a ticket
        instrument: the value of the ticket it signed, which it must own: a pledged ticket is
        the pledge register's and is refused, `ticket_not_held`)."""
        self._check_delivery(order, listing)
        frozen = None
        if self.freezes is not None:
            batch = order.batch_id if order.side == Side.SELL else listing.batch_id
            batch = listing.credit_batch(batch)
            frozen = refusal(self.freezes.account(order.trader),
                             bool(batch) and self.freezes.batch(batch))
        if frozen is not None:
            return Held(True, 0, {}, frozen)
        if not self.balances.ready(order.trader):
            return Held(False, 0, {})
        if order.side == Side.BUY:
            return Held(True, self.balances.cash(order.trader), {})
        if listing.tickets and not self.balances.tickets_ready(order.trader):
            return Held(False, 0, {})
        held = self.holding(order.trader, listing, order.batch_id)
        if listing.tickets and held == 0:
            raise ExchangeError("ticket_not_held", f"the seller does not hold ticket "
                                f"{order.batch_id} (another's, merged away, or pledged: held "
                                "by the pledge register)", {"batch_id": order.batch_id})
        return Held(True, 0, {order.batch_id: held})

    def holding(self, trader: str, listing: Listing, batch_id: int) -> int:
        """What the chain says `trader` holds of what `batch_id` names on this instrument: its
        credits of the batch, or on a ticket instrument the ticket's value if it owns it."""
        if listing.tickets:
            return self.balances.ticket(trader, batch_id)
        return self.balances.credits(trader, batch_id)

    def _check_delivery(self, order: Order, listing: Listing) -> None:
        """The signed delivery bound must be one the contract will settle and the engine can
        honour: a sell names an eligible batch; a buy names 0 (any batch the instrument
        admits) or, on a per-batch instrument, that batch (the engine matches by instrument,
        so a buy cannot restrict a class instrument to one of its batches). Only a buy
        retires on purchase for a compensation order (`retire_for`); the contract refuses a
        sell that signs one, so its every trade would fail, and a ticket instrument refuses
        it on both sides (tickets are retired for compensation orders elsewhere)."""
        batch = order.batch_id
        if listing.tickets and order.retire_for != 0:
            raise ExchangeError("ticket_retire_for", "a ticket instrument does not retire on "
                                "purchase: orders sign retire_for 0",
                                {"retire_for": order.retire_for})
        if order.side == Side.SELL:
            if order.retire_for != 0:
                raise ExchangeError("sell_retire_for", "only a buy retires for a compensation "
                                    "order: a sell signs retire_for 0",
                                    {"retire_for": order.retire_for})
            if batch == 0:
                raise ExchangeError("delivery_batch_required",
                                    "a sell signs the batch it delivers (batch_id)")
            if batch not in self.deliverable(listing):
                raise ExchangeError("ineligible_batch", f"batch {batch} cannot deliver "
                                    f"instrument {order.instrument}")
        elif batch != 0 and batch != listing.batch_id:
            raise ExchangeError("ineligible_batch", "a buy names batch_id 0 (any batch the "
                                "instrument admits) or the instrument's own batch",
                                {"batch_id": batch})

    def deliverable(self, listing: Listing) -> list[int]:
        return (self.eligible(listing.credit_class) if listing.credit_class
                else [listing.batch_id])

    def delivery_batch(self, trader: str, listing: Listing) -> int:
        """For a custodial sell that names no batch, the one the server signs: of the batches
        the instrument admits, the one where the trader has the most free credits (the lowest
        id among equals); the whole order must then fit in it (`check`)."""
        batches = self.deliverable(listing)
        if listing.credit_class is not None and not listing.tickets:  # a frozen batch is
            # never chosen (freezes.py)
            batches = [b for b in batches if b not in self.state.frozen.batches
                       and not (self.freezes is not None and self.freezes.batch(b))]
        if not batches:
            raise ExchangeError("insufficient_balance", "no batch can deliver instrument "
                                f"{listing.spec.instrument} yet", {"free": 0})
        free = {b: self.holding(trader, listing, b) - self.risk.reserved_credits(trader, b)
                for b in batches}
        return max(free, key=lambda b: (free[b], -b))

    def check(self, order: Order, listing: Listing, held: Held, block: bool = False,
              digest: bytes = b"") -> int:
        """Refuses what may not trade; returns a sell's delivery batch (0 for a buy), which
        must cover the whole order, since one trade settles one batch. `digest` is the hash
        of the order as signed (a block trade checks re-sized copies). Under the lock."""
        now = int(self.clock())
        if expires_by(order.expiry, now):
            raise ExchangeError("order_expired", "the order's expiry has passed or is too "
                                "close to settle (expiry.py)", {"expiry": order.expiry,
                                                                "now": now})
        code = held.frozen or self.state.frozen.stops(order.trader, order.side,
                                                      listing.credit_batch(order.batch_id),
                                                      listing.batch_id)
        if code is not None:
            raise ExchangeError(code, "the regulator froze the "
                                + ("account" if code == "account_frozen" else "batch"),
                                {"batch_id": order.batch_id or listing.batch_id}
                                if code == "batch_frozen" else None)
        if order.nonce < self.state.min_nonce.get(order.trader, 0) or (
                digest in self.state.voided):
            raise ExchangeError("order_cancelled_on_chain", "the trader voided this order "
                                "on chain (Settlement.cancelOrder or raiseMinNonce)")
        if order.nonce in self.state.nonces.get(order.trader, ()) or self.archive.has_nonce(
                order.trader, order.nonce):
            raise ExchangeError("nonce_used", "the trader signed another order with this "
                                "nonce (a nonce names one order)", {"nonce": order.nonce})
        fee = self.risk.taker_fee_bps
        if order.max_fee_bps < fee:
            raise ExchangeError("max_fee_too_low", "the order's signed fee cap is below "
                                "the fee it may be charged", {"max_fee_bps": order.max_fee_bps,
                                                               "fee_bps": fee})
        if listing.spec.lot * order.price < UNITS_PER_TONNE:
            raise ExchangeError("fill_below_one_fen", "a lot at this price is worth less "
                                "than 1 fen", {"lot": listing.spec.lot, "price": order.price})
        if not in_session(listing.spec, now):
            raise ExchangeError("outside_trading_hours", "the instrument is not trading now",
                                {"session_open": listing.spec.session_open,
                                 "session_close": listing.spec.session_close})
        problem = check_order(listing.spec, order.price, order.quantity, block)
        if problem is not None:
            raise ExchangeError(str(problem), f"order refused: {problem}")
        return self.risk.check(order, held)

    def refuse_self_trade(self, order: Order, listing: Listing) -> None:
        """Self-trade prevention at entry: an order that would meet its trader's own resting
        order in continuous matching is refused whole (`409 self_trade`), nothing journaled
        or traded, rather than accepted, partly filled and then cancelled by the engine: the
        trader learns at once and keeps control of both orders. Under the lock."""
        if listing.spec.status != Status.OPEN:
            return  # auctions and single lots handle their own (auction.py, engine)
        own = self.state.engine.books[listing.spec.instrument].own_order_in_the_way(
            order.side, order.price, order.trader, order.quantity)
        if own is not None:
            raise ExchangeError("self_trade", "the order would trade with the trader's own "
                                "resting order", {"resting_order_id": own.order_id,
                                                  "price": own.price})
