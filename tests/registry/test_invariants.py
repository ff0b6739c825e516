"""Conservation of credits under any sequence of registry operations.

Hypothesis draws sequences of issuances (from new verified reports), transfers among members,
retirements, buffer cancellations and account and batch freezes and unfreezes — many of them
invalid: too much, nothing, a non-member, a frozen account or batch, the buffer pool, an unknown
batch, a missing case number, a caller without the role. Each operation is sent as a real
transaction (invalid ones are mined and revert) and must succeed exactly when a plain model of
the rules says it should, with the error the model names. After the sequence, on the chain:

  * every batch: issued = sum of balanceOf over all accounts (buffer pool included)
    + retired + cancelled, and every balance equals the model's (so reverted operations
    changed nothing);
  * the serial ranges of a batch's retirements and cancellations start at 1, are contiguous and
    disjoint, and end at retired + cancelled;
  * the SQL index built from the chain's events into a fresh database agrees: same balances,
    same totals, and `sql_invariants` finds nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from web3.contract.contract import ContractFunction

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from core.db import make_engine, migrate, session_factory
from devkit.roster import SEATS
from devkit.scenario import Scenario, doc
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.models import Batch as BatchRow
from registry.queries import balance_of, sql_invariants

TONNE = 1_000_000
GAS = 1_000_000  # fixed, so invalid operations are mined (and revert) instead of pre-empted
HOLDERS = ("developer", "trader1", "trader2", "trader3", "outsider")
POOL = len(HOLDERS)  # as a destination index: the buffer pool (CarbonCredits itself)
UNKNOWN_BATCH = 999_999
# (project developer, methodology buffer in basis points)
PROJECTS = (("developer", 1_000), ("trader3", 333), ("trader1", 0))


# -- operations ---------------------------------------------------------------------------------

Amount = tuple[str, int]  # ("part", permille of what is available) | ("all" | "zero" | "over", 0)


@dataclass(frozen=True)
class Issue:
    project: int
    quantity: int
    haircut_permille: int  # the verifier verifies less than attested


@dataclass(frozen=True)
class Reissue:
    batch: int


@dataclass(frozen=True)
class Transfer:
    src: int
    dst: int
    batch: int
    amount: Amount


@dataclass(frozen=True)
class Retire:
    holder: int
    batch: int
    amount: Amount
    purpose: int
    cites_case: bool


@dataclass(frozen=True)
class CancelBuffer:
    batch: int
    amount: Amount
    by_regulator: bool


@dataclass(frozen=True)
class FreezeAccount:
    """The regulator freezes (or unfreezes) an account; asking for the state the account is
    already in must revert."""

    holder: int
    freeze: bool


@dataclass(frozen=True)
class FreezeBatch:
    batch: int
    freeze: bool


Op = Issue | Reissue | Transfer | Retire | CancelBuffer | FreezeAccount | FreezeBatch

amounts = st.one_of(
    st.tuples(st.just("part"), st.integers(1, 1_000)),
    st.tuples(st.sampled_from(["all", "zero", "over"]), st.just(0)),
)
batches = st.integers(0, 11)  # 0..10 pick an issued batch, 11 an unknown one
# 0..4 name a seat of HOLDERS; negative numbers pick one of the members that hold the batch,
# so that valid transfers and retirements are common among the invalid ones.
holders = st.integers(-5, len(HOLDERS) - 1)
# Unfreezing is asked for three times as often as freezing, so that about a quarter of the
# accounts and batches are frozen at any time rather than half.
freezes = st.sampled_from([True, False, False, False])
purposes = st.sampled_from([0, 0, 1, 2, 2, 3, 4])  # 4 is no purpose at all

operations: st.SearchStrategy[Op] = st.one_of(
    st.builds(Issue, st.integers(0, len(PROJECTS) - 1), st.integers(1, 5_000 * TONNE),
              st.integers(0, 300)),
    st.builds(Reissue, st.integers(0, 7)),
    *[st.builds(Transfer, holders, st.integers(0, POOL), batches, amounts)] * 3,
    *[st.builds(Retire, holders, batches, amounts, purposes, st.booleans())] * 3,
    st.builds(CancelBuffer, batches, amounts, st.sampled_from([True, True, True, False])),
    st.builds(FreezeAccount, st.integers(0, len(HOLDERS) - 1), freezes),
    st.builds(FreezeBatch, batches, freezes),
)


# -- the model --------------------------------------------------------------------------------


@dataclass
class BatchModel:
    report_id: int
    issued: int
    buffer: int
    retired: int = 0
    cancelled: int = 0
    frozen: bool = False
    project: int = 0


@dataclass
class Model:
    """What the registry must look like: balances by (address, batch), batch totals, freezes."""

    pool: str
    balances: dict[tuple[str, int], int] = field(default_factory=dict)
    batches: dict[int, BatchModel] = field(default_factory=dict)
    frozen_accounts: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)

    def balance(self, address: str, batch: int) -> int:
        return self.balances.get((address, batch), 0)

    def move(self, address: str, batch: int, delta: int) -> None:
        self.balances[(address, batch)] = self.balance(address, batch) + delta
        assert self.balances[(address, batch)] >= 0

    def holder_error(self, address: str) -> str | None:
        if address not in self.members:
            return "NotMember"
        if address in self.frozen_accounts:
            return "AccountFrozen"
        return None

    def batch_error(self, batch: int) -> str | None:
        if batch not in self.batches:
            return "UnknownBatch"
        if self.batches[batch].frozen:
            return "BatchFrozen"
        return None


def resolve(amount: Amount, available: int) -> int:
    kind, permille = amount
    if kind == "zero":
        return 0
    if kind == "all":
        return available
    if kind == "over":
        return available + 1
    return max(1, available * permille // 1_000)


# -- running operations against the chain and the model -----------------------------------------


@dataclass
class Run:
    ledger: Ledger
    acc: dict[str, LocalAccount]
    scenario: Scenario
    model: Model
    projects: list[int]
    batch_ids: list[int]
    # a confirmed disturbance of each project, with loss enough for every cancellation
    disturbances: dict[int, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def chain(self) -> Chain:
        return self.ledger.chain

    def address(self, index: int) -> str:
        return self.model.pool if index == POOL else self.acc[HOLDERS[index]].address

    def seat_holding(self, index: int, batch: int) -> int:
        """`index` itself, or for a negative index one of the seats holding `batch`."""
        if index >= 0:
            return index
        holding = [i for i, key in enumerate(HOLDERS)
                   if self.model.balance(self.acc[key].address, batch) > 0]
        return holding[index % len(holding)] if holding else 0

    def batch_id(self, index: int) -> int:
        if index >= 11 or not self.batch_ids:
            return UNKNOWN_BATCH
        return self.batch_ids[index % len(self.batch_ids)]

    def send(self, fn: ContractFunction, by: str, expected_error: str | None) -> Any:
        """Sends `fn`; it must succeed iff no error is expected, else fail with that error."""
        self.log.append(f"{by}: {fn.fn_name}{tuple(fn.args)} expecting {expected_error or 'ok'}")
        event(f"{fn.fn_name} -> {expected_error or 'ok'}")
        try:
            sent = self.chain.send(fn, self.acc[by], gas=GAS)
        except ChainRevert as exc:
            assert exc.name == expected_error, "\n".join(self.log)
            return None
        assert expected_error is None, "\n".join(self.log)
        return sent

    def apply(self, op: Op) -> None:
        credits = self.ledger.c("CarbonCredits").functions
        m = self.model
        if isinstance(op, Issue):
            project = self.projects[op.project]
            developer = self.acc[PROJECTS[op.project][0]].address
            verified = max(1, op.quantity - op.quantity * op.haircut_permille // 1_000)
            report = self.scenario.report(project, op.quantity, verified=verified)
            sent = self.send(credits.issue(report), "operator", m.holder_error(developer))
            if sent is not None:
                issued = self.ledger.events_of(sent, "BatchIssued")[0].args
                bid, buffer = int(issued["batchId"]), int(issued["buffer"])
                bps = PROJECTS[op.project][1]
                assert buffer == -(-verified * bps // 10_000)  # rounded up
                m.batches[bid] = BatchModel(report, verified, buffer, project=project)
                m.move(m.pool, bid, buffer)
                m.move(developer, bid, verified - buffer)
                self.batch_ids.append(bid)
        elif isinstance(op, Reissue):
            if self.batch_ids:
                bid = self.batch_ids[op.batch % len(self.batch_ids)]
                self.send(credits.issue(m.batches[bid].report_id), "operator",
                          "ReportAlreadyIssued")
        elif isinstance(op, Transfer):
            self.transfer(op)
        elif isinstance(op, Retire):
            self.retire(op)
        elif isinstance(op, CancelBuffer):
            self.cancel(op)
        elif isinstance(op, FreezeAccount):
            who = self.address(op.holder)
            consortium = self.ledger.c("Consortium").functions
            fn_call = (consortium.freeze if op.freeze else consortium.unfreeze)(who, doc("order"))
            unchanged = (who in m.frozen_accounts) == op.freeze
            if self.send(fn_call, "regulator", "FreezeUnchanged" if unchanged else None):
                (m.frozen_accounts.add if op.freeze else m.frozen_accounts.discard)(who)
        else:
            bid = self.batch_id(op.batch)
            fn_call = (credits.freezeBatch if op.freeze else credits.unfreezeBatch)(
                bid, doc("order")
            )
            error = (
                "UnknownBatch" if bid not in m.batches
                else "BatchFreezeUnchanged" if m.batches[bid].frozen == op.freeze
                else None
            )
            if self.send(fn_call, "regulator", error):
                m.batches[bid].frozen = op.freeze

    def transfer(self, op: Transfer) -> None:
        m = self.model
        bid = self.batch_id(op.batch)
        sender = self.seat_holding(op.src, bid)
        src, dst = self.address(sender), self.address(op.dst)
        amount = resolve(op.amount, m.balance(src, bid))
        error = (
            "BufferPoolLocked" if dst == m.pool
            else m.holder_error(src) or m.holder_error(dst)
            or ("ZeroAmount" if amount == 0 else None)
            or m.batch_error(bid)
            or ("ERC1155InsufficientBalance" if amount > m.balance(src, bid) else None)
        )
        fn = self.ledger.c("CarbonCredits").functions.safeTransferFrom(src, dst, bid, amount, b"")
        if self.send(fn, HOLDERS[sender], error):
            m.move(src, bid, -amount)
            m.move(dst, bid, amount)

    def retire(self, op: Retire) -> None:
        m = self.model
        bid = self.batch_id(op.batch)
        seat = self.seat_holding(op.holder, bid)
        holder = self.address(seat)
        amount = resolve(op.amount, m.balance(holder, bid))
        case = "(2025)闽0181民初123号" if op.cites_case else ""
        error = (
            m.holder_error(holder)
            or m.batch_error(bid)
            or ("ZeroAmount" if amount == 0 else None)
            or ("InvalidPurpose" if op.purpose > 3 else None)
            or ("CaseReferenceRequired" if op.purpose == 2 and not case else None)
            or ("ERC1155InsufficientBalance" if amount > m.balance(holder, bid) else None)
        )
        fn = self.ledger.c("CarbonCredits").functions.retire(
            bid, amount, "福清市人民检察院 Fuqing Procuratorate", op.purpose, case
        )
        sent = self.send(fn, HOLDERS[seat], error)
        if sent is not None:
            b = m.batches[bid]
            retired = self.ledger.events_of(sent, "Retired")[0].args
            assert retired["serialStart"] == b.retired + b.cancelled + 1
            m.move(holder, bid, -amount)
            b.retired += amount

    def cancel(self, op: CancelBuffer) -> None:
        m = self.model
        bid = self.batch_id(op.batch)
        amount = resolve(op.amount, m.balance(m.pool, bid))
        error = (
            ("NotAuthorized" if not op.by_regulator else None)
            or ("UnknownBatch" if bid not in m.batches else None)
            or ("ZeroAmount" if amount == 0 else None)
            or ("InsufficientBuffer" if amount > m.balance(m.pool, bid) else None)
        )
        project = m.batches[bid].project if bid in m.batches else self.projects[0]
        fn = self.ledger.c("CarbonCredits").functions.cancelBufferForDisturbance(
            self.disturbances[project], bid, amount)
        if self.send(fn, "regulator" if op.by_regulator else "trader2", error):
            m.move(m.pool, bid, -amount)
            m.batches[bid].cancelled += amount


# -- the registry every example starts from ---------------------------------------------------


@dataclass(frozen=True)
class Start:
    scenario: Scenario
    projects: list[int]
    model: Model
    batch_ids: list[int]
    disturbances: dict[int, int]


@pytest.fixture(scope="module")
def start(chain: Chain, deployment: Deployment,
          acc: dict[str, LocalAccount]) -> Iterator[Start]:
    snap = chain.rpc("evm_snapshot")
    try:
        ledger = Ledger(chain, deployment)
        scenario = Scenario(ledger, acc)
        projects = [scenario.project(scenario.methodology(bps), developer)
                    for developer, bps in PROJECTS]
        first = scenario.batch(quantity=1_000 * TONNE, project_id=projects[0])
        model = Model(pool=deployment.address("CarbonCredits"))
        model.members = {acc[s.key].address for s in SEATS if s.key != "outsider"}
        model.batches[first.batch_id] = BatchModel(first.report_id, first.issued, first.buffer,
                                                   project=projects[0])
        model.move(model.pool, first.batch_id, first.buffer)
        model.move(acc["developer"].address, first.batch_id, first.developer_share)
        disturbances = {p: scenario.disturbance(p, 10**9 * TONNE) for p in projects}
        yield Start(scenario, projects, model, [first.batch_id], disturbances)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


# -- what must hold afterwards ------------------------------------------------------------------


def credit_events(ledger: Ledger) -> list[Any]:
    credits = ledger.deployment.address("CarbonCredits")
    logs = ledger.chain.w3.eth.get_logs(
        {"fromBlock": ledger.deployment.block, "toBlock": "latest", "address": credits}
    )
    return [e for e in (ledger.events.decode(dict(lg)) for lg in logs) if e is not None]


def check_conservation_on_chain(run: Run) -> dict[tuple[str, int], int]:
    """issued = Σ balanceOf + retired + cancelled per batch, read from the chain; returns the
    chain's non-zero balances."""
    ledger, m = run.ledger, run.model
    events = credit_events(ledger)
    accounts = {m.pool} | {run.acc[s.key].address for s in SEATS}
    for e in events:
        if e.name in ("TransferSingle", "TransferBatch"):
            accounts |= {e.args["from"], e.args["to"]}
    accounts.discard("0x0000000000000000000000000000000000000000")
    holders = sorted(accounts)
    assert int(ledger.chain.call(ledger.c("CarbonCredits").functions.batchCount())) == len(
        m.batches
    )
    chain_balances: dict[tuple[str, int], int] = {}
    for bid, b in m.batches.items():
        fn = ledger.c("CarbonCredits").functions.balanceOfBatch(holders, [bid] * len(holders))
        held = [int(x) for x in ledger.chain.call(fn)]
        view = ledger.batch(bid)
        assert (view.issued, view.buffer, view.retired, view.cancelled,
                view.frozen) == (b.issued, b.buffer, b.retired, b.cancelled, b.frozen)
        assert view.issued == sum(held) + view.retired + view.cancelled
        for address, amount in zip(holders, held, strict=True):
            assert amount == m.balance(address, bid), (address, bid)
            if amount:
                chain_balances[(address, bid)] = amount
    check_serials(run, events)
    return chain_balances


def check_serials(run: Run, events: list[Any]) -> None:
    """Per batch, retirements and cancellations tile 1..retired+cancelled in order."""
    ranges: dict[int, list[tuple[int, int]]] = {bid: [] for bid in run.model.batches}
    for e in events:
        if e.name == "Retired":
            start, amount = int(e.args["serialStart"]), int(e.args["amount"])
            record = run.ledger.retirement(int(e.args["retirementId"])).retirement
            assert (record.holder, record.batch_id, record.serial_start,
                    record.amount) == (e.args["holder"], e.args["batchId"], start, amount)
            ranges[int(e.args["batchId"])].append((start, start + amount - 1))
        elif e.name == "BufferCancelled":
            start, end = int(e.args["serialStart"]), int(e.args["serialEnd"])
            assert end == start + int(e.args["amount"]) - 1
            ranges[int(e.args["batchId"])].append((start, end))
    for bid, spans in ranges.items():
        b = run.model.batches[bid]
        next_serial = 1
        for start, end in sorted(spans):
            assert start == next_serial and end >= start, (bid, spans)
            next_serial = end + 1
        assert next_serial - 1 == b.retired + b.cancelled


def check_sql_index(run: Run, chain_balances: dict[tuple[str, int], int]) -> None:
    """A fresh SQL index of the chain agrees with the chain and finds nothing wrong."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'index.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            Indexer(run.chain, run.ledger.deployment, engine).sync()
            with session_factory(engine)() as session:
                assert sql_invariants(session) == []
                for (address, bid), amount in chain_balances.items():
                    assert balance_of(session, address, bid) == amount, (address, bid)
                held_in_sql = session.query(BatchRow).count()
                assert held_in_sql == len(run.model.batches)
                for row in session.query(BatchRow):
                    b = run.model.batches[int(row.id)]
                    assert (row.issued, row.retired, row.cancelled, row.frozen) == (
                        b.issued, b.retired, b.cancelled, b.frozen
                    )
        finally:
            engine.dispose()


# -- the property -------------------------------------------------------------------------------


# Every step is a real transaction, so shrinking a failure would take minutes: it is skipped,
# and a failing example reports its whole sequence (and each assertion the operations so far).
@settings(max_examples=20, deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operations, min_size=10, max_size=50))
def test_credits_are_conserved_under_any_sequence_of_operations(
    start: Start, ledger: Ledger, acc: dict[str, LocalAccount], ops: list[Op]
) -> None:
    snap = ledger.chain.rpc("evm_snapshot")
    try:
        run = Run(
            ledger=ledger,
            acc=acc,
            scenario=start.scenario.fork(),
            model=Model(
                pool=start.model.pool,
                balances=dict(start.model.balances),
                batches={k: BatchModel(**vars(v)) for k, v in start.model.batches.items()},
                members=set(start.model.members),
            ),
            projects=start.projects,
            batch_ids=list(start.batch_ids),
            disturbances=start.disturbances,
        )
        for op in ops:
            run.apply(op)
        chain_balances = check_conservation_on_chain(run)
        check_sql_index(run, chain_balances)
    finally:
        ledger.chain.rpc("evm_revert", snap)
        ledger.chain.reset_nonces()
