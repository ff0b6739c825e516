"""Matching engine alone, one core, exchange-core's command mix.

The mix of exchange-core's throughput tests: about 9 % GTC orders, 3 % IOC orders, 6 % cancels
and 82 % moves, over a book kept near 1,000 resting orders around a mid price, from 200
members. Commands are generated first (by running them through a generator engine, so every
cancel and move names a live order); then a fresh engine processes the same commands and is
timed: throughput over the whole run (one perf_counter around the loop) and per-command
latency (perf_counter_ns around each command, in a second pass on another fresh engine; the
timer's own cost, measured and reported, is not subtracted). The last line is one JSON object.

Run: .venv/bin/python bench/matching.py [--commands N] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.engine import Engine
from exchange.instruments import InstrumentSpec
from exchange.orders import Cancel, Command, Move, Place, Side, TimeInForce

SYMBOL = 1  # the instrument id, as on chain
MID = 60_000  # 600.00 CNY per tonne, in fen
LOT = 1_000_000
TARGET_RESTING = 1_000


def spec() -> InstrumentSpec:
    return InstrumentSpec(SYMBOL, tick=1, lot=LOT, reference_price=MID)


def generate(n: int, seed: int) -> list[Command]:
    rnd = random.Random(seed)
    engine = Engine([spec()])
    book = engine.books[SYMBOL]
    members = [f"m{i:03d}" for i in range(200)]
    commands: list[Command] = []
    next_id = 1
    live: list[int] = []

    def place(tif: TimeInForce, aggressive: bool) -> Command:
        nonlocal next_id
        side = Side.BUY if rnd.random() < 0.5 else Side.SELL
        offset = rnd.randint(-5, 40) if aggressive else rnd.randint(1, 400)
        price = MID - offset if side == Side.BUY else MID + offset
        if aggressive:
            price = MID + 30 if side == Side.BUY else MID - 30
        cmd = Place(SYMBOL, next_id, rnd.choice(members), side, price,
                    rnd.randint(1, 20) * LOT, tif, ts=len(commands))
        next_id += 1
        return cmd

    # seed the book
    while len(book.orders) < TARGET_RESTING:
        cmd = place(TimeInForce.GTC, False)
        engine.process(cmd)
        commands.append(cmd)
    warmup = len(commands)
    while len(commands) < warmup + n:
        live = list(book.orders) if rnd.random() < 0.05 or not live else live
        r = rnd.random()
        if r < 0.09 or not book.orders:
            cmd = place(TimeInForce.GTC, len(book.orders) > TARGET_RESTING * 1.1)
        elif r < 0.12:
            cmd = place(TimeInForce.IOC, True)
        else:
            oid = rnd.choice(live)
            order = book.orders.get(oid)
            if order is None:
                live = list(book.orders)
                continue
            if r < 0.18:
                cmd = Cancel(SYMBOL, oid, order.member, ts=len(commands))
            else:
                delta = rnd.randint(-15, 15) or 1
                price = max(1, order.price + delta)
                cmd = Move(SYMBOL, oid, order.member, price, ts=len(commands))
        engine.process(cmd)
        commands.append(cmd)
    return commands


def run(n: int, seed: int) -> dict[str, object]:
    commands = generate(n, seed)
    mix = {"place_gtc": 0, "place_ioc": 0, "cancel": 0, "move": 0}
    for c in commands[-n:]:
        if type(c) is Place:
            mix["place_ioc" if c.tif == TimeInForce.IOC else "place_gtc"] += 1
        elif type(c) is Cancel:
            mix["cancel"] += 1
        else:
            mix["move"] += 1

    def fresh_after_seed() -> tuple[Engine, list[Command]]:
        engine = Engine([spec()])
        for c in commands[: len(commands) - n]:
            engine.process(c)
        return engine, commands[len(commands) - n:]

    # throughput
    engine, timed = fresh_after_seed()
    process = engine.process
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    events = 0
    for c in timed:
        events += len(process(c))
    elapsed = time.perf_counter() - t0
    gc.enable()
    resting_end = len(engine.books[SYMBOL].orders)

    # latency
    engine, timed = fresh_after_seed()
    process = engine.process
    clock = time.perf_counter_ns
    lat = [0] * len(timed)
    gc.collect()
    gc.disable()
    for i, c in enumerate(timed):
        a = clock()
        process(c)
        lat[i] = clock() - a
    gc.enable()
    overhead = min(-(clock() - clock()) for _ in range(1000))
    lat.sort()

    def pct(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] / 1000, 2)

    return {
        "commands": n,
        "commands_per_s": round(n / elapsed),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "max_us": round(lat[-1] / 1000, 1),
        "timer_overhead_ns": overhead,
        "events": events,
        "resting_orders_end": resting_end,
        "mix": {k: round(v / n, 3) for k, v in mix.items()},
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.commands, args.seed)
    for k, v in result.items():
        print(f"{k:<22} {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
