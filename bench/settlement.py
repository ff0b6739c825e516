"""Settlement throughput and gas on a local anvil: matched trades to confirmed receipts.

Starts its own anvil, deploys, admits 20 traders (10 sellers holding credits of one batch, 10
buyers holding cash), lists the batch and sets maker/taker fees. Every trade is between two
fresh signed orders (the costly case: both orders' fill slots are written for the first time);
orders are signed before timing. The engine matches them; timing runs from the engine's trades
to the last confirmed receipt: build fills, send batches of `--batch` trades without waiting,
then wait for every receipt. Every batch is appended to an outbox (fsync'd) before it is sent,
as in the product; `--no-outbox` leaves that out to show what it costs. The last line is one
JSON object.

Run: .venv/bin/python bench/settlement.py [--trades N] [--batch B] [--no-outbox]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.outbox import Outbox
from exchange.engine import Engine
from exchange.instruments import InstrumentSpec
from exchange.onchain import Fill, SettlementChain
from exchange.orders import Place, Side, Trade
from exchange.signing import Order, sign_order
from tanhui.local import fund_traders, local_registry
from tanhui.scenario import Scenario

T = 1_000_000
PRICE = 60_000


def run(n_trades: int, batch_size: int, outbox: bool = True) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, local_registry(
            Path(tmp) / "outbox.db" if outbox else None) as (_, ledger, acc):
        chain = ledger.chain
        sc = SettlementChain(ledger)
        batch = Scenario(ledger, acc).batch(quantity=10_000_000 * T).batch_id
        sellers, buyers = fund_traders(ledger, acc, batch, (n_trades // 10 + 1) * T, 10**12)
        sc.set_fees(acc["exchange"], acc["exchange"].address, 10, 20)

        # signed orders, then matching
        engine = Engine([InstrumentSpec("1", tick=1, lot=T, reference_price=PRICE)])
        signed: dict[int, tuple[Order, bytes]] = {}
        t_sign = time.perf_counter()
        trades: list[Trade] = []
        for i in range(n_trades):
            seller, buyer = sellers[i % 10], buyers[(i // 10) % 10]
            sell = Order(seller.address, 1, 1, PRICE, T, 0, i, 2**40)
            buy = Order(buyer.address, 0, 1, PRICE, T, 0, i, 2**40)
            signed[2 * i + 1] = (sell, sign_order(seller, sell, sc.domain))
            signed[2 * i + 2] = (buy, sign_order(buyer, buy, sc.domain))
        sign_s = time.perf_counter() - t_sign
        for i in range(n_trades):
            engine.process(Place("1", 2 * i + 1, sellers[i % 10].address, Side.SELL, PRICE, T))
            for ev in engine.process(Place("1", 2 * i + 2, buyers[(i // 10) % 10].address,
                                           Side.BUY, PRICE, T)):
                if isinstance(ev, Trade):
                    trades.append(ev)

        # timed: trades → fills → batches sent → receipts confirmed
        t0 = time.perf_counter()
        fills = []
        for t in trades:
            buy_order, buy_sig = signed[t.taker_order_id]
            sell_order, sell_sig = signed[t.maker_order_id]
            fills.append(Fill(t.trade_id, batch, t.quantity, t.price, False, buy_order, buy_sig,
                              sell_order, sell_sig))
        batches = [fills[i:i + batch_size] for i in range(0, len(fills), batch_size)]
        gas_limit = sc.estimate_settle(acc["exchange"].address, batches[0]) * 13 // 10
        gas_price = int(chain.w3.eth.gas_price)
        hashes = [sc.send_settle(acc["exchange"], b, gas_limit, gas_price) for b in batches]
        receipts = [chain.wait(h) for h in hashes]
        elapsed = time.perf_counter() - t0
        gas = [r.gas_used for r in receipts]
        per_trade = [g / len(b) for g, b in zip(gas, batches, strict=True)]
        assert all(sc.is_settled(t.trade_id) for t in trades[:: max(1, len(trades) // 20)])
        appends = outbox_appends(chain.outbox, Path(tmp)) if chain.outbox else []
        return {
            "trades": len(trades),
            "batch_size": batch_size,
            "transactions": len(batches),
            "trades_per_s": round(len(trades) / elapsed, 1),
            "seconds": round(elapsed, 3),
            "gas_per_trade": round(sum(gas) / len(trades)),
            "gas_per_trade_first_batch": round(per_trade[0]),
            "gas_per_trade_later_batches": round(sum(per_trade[1:]) / max(1, len(per_trade) - 1)),
            "gas_per_batch_max": max(gas),
            "order_signing_s": round(sign_s, 2),
            "outbox": outbox,
            # one fsync'd append of a settlement batch (≈ its calldata), timed on its own
            "outbox_append_ms_p50": round(statistics.median(appends), 2) if appends else None,
            "outbox_append_ms_max": round(max(appends), 2) if appends else None,
            "outbox_bytes_per_batch": round(statistics.mean(
                len(e.raw or b"") for e in chain.outbox.entries() if e.purpose == "settle"))
            if chain.outbox else None,
        }


def outbox_appends(outbox: Outbox, tmp: Path) -> list[float]:
    """Milliseconds to append each settlement batch sent again to a fresh outbox file."""
    probe = Outbox(tmp / "probe.db")
    out = []
    for e in outbox.entries():
        if e.purpose != "settle" or e.raw is None:
            continue
        t0 = time.perf_counter()
        probe.append(e.chain, e.tx_hash, e.sender, e.nonce, e.purpose, e.raw)
        out.append((time.perf_counter() - t0) * 1_000)
    probe.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-outbox", action="store_true",
                        help="send without appending to an outbox first (to measure its cost)")
    args = parser.parse_args()
    result = run(args.trades, args.batch, not args.no_outbox)
    for k, v in result.items():
        print(f"{k:<28} {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
