"""Settlement throughput and gas on a local anvil: matched trades to confirmed receipts.

Starts its own anvil, deploys, admits 20 traders (10 sellers holding credits of one batch, 10
buyers holding cash), lists the batch and sets maker/taker fees. Every trade is between two
fresh signed orders, each filled in full by its one trade (nonces count up per trader, as the
example client's do); orders are signed before timing. The engine matches them; timing runs
from the engine's trades to the last confirmed receipt: build fills, send batches of `--batch`
trades without waiting, then wait for every receipt. Every batch is appended to an outbox
(fsync'd) before it is sent, as in the product; `--no-outbox` leaves that out to show what it
costs. The last line is one JSON object.

`--split` also traces one later batch (anvil's `debug_traceTransaction`) and reports where its
gas goes, per trade: calldata (intrinsic, from the transaction's bytes), signature recovery
(the ecrecover precompile calls), the credit moves (calls into CarbonCredits, its roster
checks included), the cash moves (calls into CashToken: one per trade, plus one fee payment
per buyer and batch), the roster checks Settlement makes itself (once per trader per batch),
Settlement's own storage (SLOAD/SSTORE: trade-id and nonce bitmaps, instrument, minimum
nonce), its events (LOG), and the rest of its execution (ABI decoding, EIP-712 hashing,
arithmetic). Every figure is summed from the trace, none estimated.

Variants, to measure what the nonce bitmap saves: `--nonce-stride 256` gives every order a
nonce in a storage word of its own (as a client numbering its orders by the clock would), and
`--partial` signs every order for twice what it trades, so each order is filled in part and
keeps its settled quantity in a slot of its own. `--retire` signs every buy for an
ecological-compensation order (`retireFor`; the buyers are its parties), so each trade is retired
on purchase for the order (CarbonCredits.retireOnPurchase, counted by CompensationOrders) instead
of delivered: what buying and retiring in one settlement costs.

Run: .venv/bin/python bench/settlement.py [--trades N] [--batch B] [--no-outbox] [--split]
     [--nonce-stride K] [--partial] [--retire]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account.signers.local import LocalAccount

from chain.outbox import Outbox
from devkit.local import fund_traders, local_registry
from devkit.scenario import Scenario, doc
from exchange.engine import Engine
from exchange.instruments import InstrumentSpec
from exchange.onchain import Fill, SettlementChain
from exchange.orders import Place, Side, Trade
from exchange.signing import Order, sign_order
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.ledger import Ledger

T = 1_000_000
PRICE = 60_000
MAKER_BPS, TAKER_BPS = 10, 20
ECRECOVER = "0x0000000000000000000000000000000000000001"


def run(n_trades: int, batch_size: int, outbox: bool = True, split: bool = False,
        nonce_stride: int = 1, partial: bool = False, retire: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, local_registry(
            Path(tmp) / "outbox.db" if outbox else None,
            ("--steps-tracing",) if split else ()) as (_, ledger, acc):
        chain = ledger.chain
        sc = SettlementChain(ledger)
        batch = Scenario(ledger, acc).batch(quantity=10_000_000 * T).batch_id
        sellers, buyers = fund_traders(ledger, acc, batch, (n_trades // 10 + 1) * T, 10**12)
        sc.list_instrument(acc["exchange"], 1, batch_id=batch, lot=T, tick=1)
        sc.set_fees(acc["exchange"], acc["exchange"].address, MAKER_BPS, TAKER_BPS)
        size = 2 * T if partial else T
        retire_for = compensation_order(ledger, acc, buyers, n_trades * size) if retire else 0

        # signed orders, then matching
        engine = Engine([InstrumentSpec(1, tick=1, lot=T, reference_price=PRICE)])
        signed: dict[int, tuple[Order, bytes]] = {}
        t_sign = time.perf_counter()
        trades: list[Trade] = []
        for i in range(n_trades):
            seller, buyer = sellers[i % 10], buyers[(i // 10) % 10]
            nonce = i * nonce_stride
            sell = Order(seller.address, 1, 1, PRICE, size, 0, nonce, 2**40, batch_id=batch,
                         max_fee_bps=TAKER_BPS)
            buy = Order(buyer.address, 0, 1, PRICE, size, 0, nonce, 2**40,
                        max_fee_bps=TAKER_BPS, retire_for=retire_for)
            signed[2 * i + 1] = (sell, sign_order(seller, sell, sc.domain))
            signed[2 * i + 2] = (buy, sign_order(buyer, buy, sc.domain))
        sign_s = time.perf_counter() - t_sign
        for i in range(n_trades):
            engine.process(Place(1, 2 * i + 1, sellers[i % 10].address, Side.SELL, PRICE, T))
            for ev in engine.process(Place(1, 2 * i + 2, buyers[(i // 10) % 10].address,
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
        assert all(f.quantity == T for f in fills)
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
        result: dict[str, object] = {
            "trades": len(trades),
            "variant": ("partial fills" if partial else f"nonce stride {nonce_stride}")
            + (", retired on purchase" if retire else ""),
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
        if split:
            last = len(batches) - 1 if len(batches) > 1 else 0
            result["split_per_trade"] = gas_split(ledger, hashes[last], len(batches[last]))
        return result


def compensation_order(ledger: Ledger, acc: dict[str, LocalAccount],
                       buyers: list[LocalAccount], required: int) -> int:
    """A Tonnes order of the procuratorate for the scenario's (mangrove) credits, any region and
    vintage, the buyers its parties, due in a year: every purchase counts toward it."""
    now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    terms = Terms(unit=Unit.TONNES, required=required, categories=(SinkCategory.MANGROVE,),
                  deadline=now + 365 * 86_400, party_names=("bench party",),
                  document_hash=doc("bench judgment"), parties=tuple(b.address for b in buyers))
    return Compensation(ledger).register_order(acc["procuratorate"], "bench case", terms).id


def gas_split(ledger: Ledger, tx_hash: str, n: int) -> dict[str, int]:
    """Where one settle transaction's gas goes, per trade, summed from its traces."""
    chain = ledger.chain
    names = {ledger.deployment.address(k).lower(): k for k in ledger.deployment.contracts}
    names[ECRECOVER] = "ecrecover"
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    data = bytes(chain.w3.eth.get_transaction(tx_hash)["input"])  # type: ignore[arg-type]
    calldata = sum(4 if b == 0 else 16 for b in data)

    # Settlement's own steps (depth 1), each costing the gas it took until the next depth-1
    # step; a call's cost so includes everything the callee did, and is booked to the callee
    # (calls appear in the opcode trace in the order the call tracer lists them)
    top = chain.rpc("debug_traceTransaction", tx_hash, {"tracer": "callTracer"}).get("calls", [])
    callees = [names.get(c["to"].lower(), c["to"]) for c in top]
    # inside the credit moves: what CarbonCredits' own roster calls cost (callee gas only)
    credit_roster = sum(int(inner["gasUsed"], 16) for c, name in zip(top, callees, strict=True)
                        if name == "CarbonCredits" for inner in c.get("calls", [])
                        if names.get(inner["to"].lower()) == "Consortium")
    steps = [s for s in chain.rpc("debug_traceTransaction", tx_hash, {
        "disableStack": True, "disableMemory": True, "disableStorage": True})["structLogs"]
        if s["depth"] == 1]
    spent: dict[str, int] = defaultdict(int)
    k = 0
    for step, after in itertools.pairwise(steps):
        op, cost = step["op"], int(step["gas"]) - int(after["gas"])
        if op in ("CALL", "STATICCALL", "DELEGATECALL"):
            spent[callees[k]] += cost
            k += 1
        elif op in ("SLOAD", "SSTORE"):
            spent["storage"] += cost
        elif op.startswith("LOG"):
            spent["events"] += cost
        elif op in ("TLOAD", "TSTORE"):
            spent["transient"] += cost
        else:
            spent["execution"] += cost
    spent["execution"] += int(steps[-1]["gasCost"])
    assert k == len(callees)
    total = int(receipt["gasUsed"])
    parts = {
        "calldata": calldata,
        "transaction_base": 21_000,
        "signature_recovery": spent.pop("ecrecover", 0),
        "credit_moves": spent.pop("CarbonCredits", 0),
        "cash_moves": spent.pop("CashToken", 0),
        "roster_checks": spent.pop("Consortium", 0),
        "class_checks": spent.pop("ProjectRegistry", 0),
        "storage": spent.pop("storage", 0),
        "events": spent.pop("events", 0),
        "transient": spent.pop("transient", 0),
        "execution": spent.pop("execution", 0),  # decoding, EIP-712 hashing, arithmetic, memory
    }
    assert not spent, spent
    parts["refunds"] = total - sum(parts.values())
    out = {k: round(v / n) for k, v in parts.items()}
    out["of_credit_moves_roster_calls"] = round(credit_roster / n)  # inside credit_moves
    out["total"] = round(total / n)
    return out


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
    parser.add_argument("--split", action="store_true", help="trace one batch's gas split")
    parser.add_argument("--nonce-stride", type=int, default=1,
                        help="nonce step between a trader's orders (256: one word each)")
    parser.add_argument("--partial", action="store_true",
                        help="orders for 2 t filled 1 t (per-order fill slots)")
    parser.add_argument("--retire", action="store_true",
                        help="every buy retires for a compensation order on purchase")
    args = parser.parse_args()
    result = run(args.trades, args.batch, not args.no_outbox, args.split, args.nonce_stride,
                 args.partial, args.retire)
    for k, v in result.items():
        print(f"{k:<28} {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
