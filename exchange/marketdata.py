"""Market data from trades: recent trades, OHLCV candles and 24-hour statistics.

Kept in memory per instrument and rebuilt from the journal on restart (trades are replayed), so
it needs no storage of its own. Candle buckets are aligned to UTC; timestamps are milliseconds.

Only trades that stand count: a trade marked failed in settlement (nothing moved on chain) is
taken out (`discard`), so recent trades, candles and 24-hour statistics are computed as if it
had never matched; replay marks it failed at the same point and gives the same figures.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from exchange.orders import Trade

INTERVALS_MS = {"1m": 60_000, "1h": 3_600_000, "1d": 86_400_000}
DAY_MS = 86_400_000
KEEP = 100_000  # trades kept per instrument


class MarketData:
    def __init__(self) -> None:
        self._trades: dict[int, deque[Trade]] = {}

    def on_trade(self, trade: Trade) -> None:
        self._trades.setdefault(trade.instrument, deque(maxlen=KEEP)).append(trade)

    def discard(self, trade: Trade) -> None:
        """A trade that failed settlement no longer counts (a linear scan: failures are rare)."""
        kept = self._trades.get(trade.instrument)
        if kept is not None:
            with suppress(ValueError):  # it fell out of the window already
                kept.remove(trade)

    def last_close(self, instrument: int, skip: set[int] | None = None) -> Trade | None:
        """The newest counted trade that sets the close (block trades do not), leaving out the
        trade ids in `skip`."""
        return next((t for t in self.recent(instrument)
                     if t.kind != "block" and (skip is None or t.trade_id not in skip)), None)

    def recent(self, instrument: int) -> Iterator[Trade]:
        """The instrument's trades still counted, newest first."""
        return reversed(self._trades.get(instrument, deque()))

    def trades(self, instrument: int, limit: int = 100) -> list[dict[str, Any]]:
        recent = list(self._trades.get(instrument, ()))[-limit:]
        return [{"trade_id": t.trade_id, "price": t.price, "quantity": t.quantity, "ts": t.ts,
                 "taker_side": "buy" if int(t.taker_side) == 0 else "sell", "kind": t.kind,
                 "seq": t.seq} for t in reversed(recent)]

    def candles(self, instrument: int, interval: str, limit: int = 200) -> list[dict[str, Any]]:
        """OHLCV per bucket: open, high, low, close prices; volume in units; value in fen
        (quantity × price / 1,000,000, rounded down per trade as settlement does)."""
        width = INTERVALS_MS[interval]
        out: dict[int, dict[str, Any]] = {}
        for t in self._trades.get(instrument, ()):
            start = t.ts - t.ts % width
            c = out.get(start)
            if c is None:
                out[start] = {"start": start, "open": t.price, "high": t.price, "low": t.price,
                              "close": t.price, "volume": t.quantity,
                              "value": t.quantity * t.price // 1_000_000, "trades": 1}
            else:
                c["high"] = max(c["high"], t.price)
                c["low"] = min(c["low"], t.price)
                c["close"] = t.price
                c["volume"] += t.quantity
                c["value"] += t.quantity * t.price // 1_000_000
                c["trades"] += 1
        return [out[k] for k in sorted(out)][-limit:]

    def stats_24h(self, instrument: int, now_ms: int) -> dict[str, Any]:
        window = [t for t in self._trades.get(instrument, ()) if t.ts > now_ms - DAY_MS]
        if not window:
            return {"instrument": int(instrument), "trades": 0, "volume": 0, "value": 0,
                    "open": None, "high": None, "low": None, "last": None, "change_bps": None}
        first, last = window[0].price, window[-1].price
        return {"instrument": int(instrument), "trades": len(window),
                "volume": sum(t.quantity for t in window),
                "value": sum(t.quantity * t.price // 1_000_000 for t in window),
                "open": first, "high": max(t.price for t in window),
                "low": min(t.price for t in window), "last": last,
                "change_bps": (last - first) * 10_000 // first}
