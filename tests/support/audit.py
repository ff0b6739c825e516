"""Helpers for the auditor's tests: a demo-like history made through the real contracts, and the
storage slot of an ERC-1155 balance found from the compiler's storage layout (so a test can
alter a balance behind the contracts' backs with anvil_setStorageAt)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.compile import _run_solc, _sources, compiler_config
from devkit.scenario import Scenario, doc
from exchange.onchain import SettlementChain
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.ledger import Ledger
from registry.pledges import Pledges
from registry.tickets import Tickets
from tests.support.fills import fill, orders

TONNE = 1_000_000
CASE = "（2026）桂07民初88号"


@dataclass(frozen=True)
class Demo:
    batch: int
    other_batch: int
    report: int
    retirement: int
    order: int
    order_retirement: int
    ticket: int
    slot: int
    pledge: int
    trade: int


def demo_history(ledger: Ledger, acc: dict[str, LocalAccount]) -> Demo:
    """Two batches of a mangrove project; transfers; a retirement; a trade settled on chain; a
    compensation order partly fulfilled (by credits and by tickets); a forest ticket split,
    transferred and part retired; a credit pledge to the bank and a ticket pledge released."""
    s = Scenario(ledger, acc)
    dev, t1 = acc["developer"], acc["trader1"]
    b = s.batch(quantity=1_000 * TONNE)
    other = s.batch(quantity=500 * TONNE, project_id=b.project_id)
    ledger.transfer(dev, t1.address, b.batch_id, 300 * TONNE)
    ledger.transfer(dev, acc["trader2"].address, other.batch_id, 10 * TONNE)
    r = ledger.retire(t1, b.batch_id, 20 * TONNE, "南宁绿色发展基金 Nanning Green Fund")

    sc = SettlementChain(ledger)
    sc.deposit(acc["bank"], acc["trader2"].address, 100_000_00, doc("wire-1"))
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    sc.list_instrument(acc["exchange"], 7, batch_id=b.batch_id)
    buy, sell = orders(acc, b.batch_id)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 4 * TONNE, b.batch_id)])

    comp = Compensation(ledger)
    deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    terms = Terms(unit=Unit.TONNES, required=10 * TONNE,
                  categories=(SinkCategory.MANGROVE, SinkCategory.FOREST),
                  deadline=deadline, party_names=("广西北港新材料有限公司",),
                  document_hash=doc("judgment"), parties=(t1.address,), regions=(45,))
    order = comp.register_order(acc["procuratorate"], CASE, terms).id
    counted = comp.retire_for_order(t1, order, b.batch_id, 4 * TONNE)

    tickets, pledges = Tickets(ledger), Pledges(ledger)
    issued = s.ticket(2_000 * TONNE)
    part = tickets.transfer(dev, issued.token_id, t1.address, 500 * TONNE)
    tickets.retire(t1, part, 100 * TONNE, "三明市林业局 Sanming Forestry")
    comp.retire_tickets_for_order(t1, order, part, 3 * TONNE)  # the order counts tickets too
    pledges.approve_tickets(dev)
    pledges.approve_credits(dev)
    maturity = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    ticket_pledge = pledges.pledge_ticket(dev, issued.token_id, 300 * TONNE,
                                          acc["bank"].address, doc("loan-1"), 5_000_00, maturity)
    pledges.release(acc["bank"], ticket_pledge.pledge_id)
    credit_pledge = pledges.pledge_credits(dev, b.batch_id, 100 * TONNE, acc["bank"].address,
                                           doc("loan-2"), 9_000_00, maturity)
    return Demo(b.batch_id, other.batch_id, b.report_id, r.retirement_id, order,
                counted.retirement.retirement_id, issued.token_id, issued.slot,
                credit_pledge.pledge_id, 1)


@cache
def balances_slot() -> int:
    """The storage slot of OpenZeppelin ERC1155's `_balances` in CarbonCredits, from solc's
    storageLayout output (no code generation needed)."""
    settings = dict(compiler_config()["settings"])
    settings["outputSelection"] = {"contracts/credits/CarbonCredits.sol": {
        "CarbonCredits": ["storageLayout"]}}
    out = _run_solc({"language": "Solidity",
                     "sources": {p: {"content": t} for p, t in _sources().items()},
                     "settings": settings})
    layout = out["contracts"]["contracts/credits/CarbonCredits.sol"]["CarbonCredits"][
        "storageLayout"]["storage"]
    [entry] = [e for e in layout if e["label"] == "_balances"]
    return int(entry["slot"])


def balance_key(batch_id: int, holder: str) -> str:
    """The storage key of `_balances[batch_id][holder]` (mapping(uint256 => mapping(address =>
    uint256))): keccak(holder . keccak(id . slot))."""
    inner = keccak(abi_encode(["uint256", "uint256"], [batch_id, balances_slot()]))
    return "0x" + keccak(abi_encode(["address", "bytes32"], [holder, inner])).hex()


def set_balance(ledger: Ledger, batch_id: int, holder: str, value: int) -> None:
    """Overwrites a balance in CarbonCredits' storage, emitting no event."""
    ledger.chain.rpc("anvil_setStorageAt", ledger.deployment.address("CarbonCredits"),
                     balance_key(batch_id, holder), "0x" + value.to_bytes(32, "big").hex())


def attested_records(ledger: Ledger, acc: dict[str, LocalAccount], records: list[bytes],
                     quantity: int = 5 * TONNE) -> int:
    """A report of a new project attested by two oracle nodes over the Merkle root of
    `records` (oracle.merkle, as the nodes build it); its id."""
    from oracle.merkle import leaf_hashes, merkle_root

    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    start, end = s.period(project)
    root = merkle_root(leaf_hashes(records))
    report = 0
    for node in ("oracle1", "oracle2"):
        report = ledger.attest(acc[node], project, start, end, root, quantity,
                               doc(f"report/{project}")).id
    return report


def proof_json(records: list[bytes], index: int) -> dict[str, object]:
    """A record proof as `tanhui oracle prove` writes it (record text and sibling hashes)."""
    from oracle.merkle import leaf_hashes, merkle_proof

    proof = merkle_proof(leaf_hashes(records), index)
    return {"record": records[index].decode(), "proof": ["0x" + p.hex() for p in proof]}
