"""Who may call what: every state-changing function of every contract, called by every seat of
the development consortium.

`MATRIX` declares, for each function, the roles that may call it. Each (function, seat) pair is
one test: in a state where the function would succeed for an allowed caller, a seat holding an
allowed role calls it and the call goes through (simulated, then sent); any other seat is turned
away with the authorization error of that gate, naming the seat (and the missing role). The
matrix is checked against the compiled ABIs, so a new function without a row fails the suite.

Gates:
  consortium  members holding the role pass; other members get NotAuthorized(account, role);
              non-members get NotMember(account).
  holder      any active member passes; non-members get NotMember(account).
  admin       AccessControl's role admin (governance) passes; everyone else gets
              AccessControlUnauthorizedAccount(account, DEFAULT_ADMIN_ROLE).
  self        only the account named in the call passes (renouncing one's own role); everyone
              else gets AccessControlBadConfirmation().
  successor   only the governance successor, once the handover delay has passed, passes
              (accepting governance); everyone else gets AccessControlInvalidDefaultAdmin(caller).
  contract    only another contract of the registry (DisturbanceReports.consumeLoss, drawn by
              CarbonCredits; CashToken.settlementTransfer, used by Settlement;
              CompensationOrders.countRetirement and countTicketRetirement, used by the two
              registers; CarbonCredits.retireOnPurchase, used by the
              purchase venues; MonitoringReports.claim, used by CarbonCredits and
              ForestTickets; ForwardDelivery, run only inside ForwardMarket): every seat gets
              the row's error naming the caller
              (NotCreditsContract by default).
  owner       only the account that made the object (an offer's seller) passes; everyone else
              gets the row's error naming the object and the caller.
  open        anyone: the forwarder's relaying (the signed request carries the authorization)
              and the stateless ERC-1155 receiver hooks of the buffer pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from chain.abi import signature
from chain.client import Chain, ChainRevert
from chain.deploy import CONTRACTS, DEFAULT_GOVERNANCE_DELAY, Deployment
from chain.metatx import forward_request
from chain.roles import role_id
from devkit.roster import SEATS, Seat, dev_account
from devkit.scenario import MAOWEI, Scenario, doc
from exchange.onchain import Fill, SettlementChain
from exchange.signing import Order, sign_order
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.ledger import Ledger, Purpose
from registry.pledges import Pledges
from registry.retail import Supermarket
from registry.tickets import Tickets
from tests.support.forwards import (
    FORWARD_ORDER_ABI,
    FORWARD_TERMS_ABI,
    FORWARD_TRADE_ABI,
    ForwardWorld,
    forward_world,
)

TONNE = 1_000_000
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = bytes(32)

Gate = Literal["consortium", "holder", "admin", "self", "successor", "contract", "owner",
               "open"]


# -- the state in which every function would succeed for its allowed callers -----------------


@dataclass(frozen=True)
class World:
    """Objects at every stage of their flow, and credits in every member's hands."""

    chain: Chain
    deployment: Deployment
    acc: dict[str, LocalAccount]
    methodology_registered: int
    methodology_approved: int
    project_registered: int
    project_validated: int
    project_approved: int
    report_pending: int
    report_attested: int
    report_verified: int
    fresh_period: tuple[int, int]
    disturbance_pending: int
    disturbance_attested: int
    disturbance_confirmed: int
    fresh_event: int
    batch: int
    fill: tuple[Any, ...]
    frozen_batch: int
    frozen_member: str
    newcomer: str
    successor: str
    order: int
    offer: int
    # an open order admitting forest carbon (tickets count toward it), every member a party
    ticket_order: int
    forest_report: int
    # per seat: a ticket to split, transfer and retire from, one to merge into it, one to move whole
    tickets: dict[str, tuple[int, int, int]]
    # a second bank (not a seat), for the bank seat's own pledges
    second_bank: str
    pledge_open: int
    pledge_matured: int
    # the retail seat's ticket on the carbon supermarket's shelf (credits of `batch` too)
    shelf_ticket: int
    forwards: ForwardWorld

    def contract(self, name: str) -> Contract:
        return self.deployment.contract(self.chain, name)

    def address(self, seat: str) -> str:
        return self.acc[seat].address

    def counterparty(self, seat: str) -> str:
        """A member other than `seat` to receive credits or approval."""
        return self.address(self.counterparty_seat(seat))

    @staticmethod
    def counterparty_seat(seat: str) -> str:
        return "trader2" if seat == "trader1" else "trader1"

    def ticket(self, seat: str, which: int = 0) -> int:
        """`seat`'s ticket (0: main, 1: to merge, 2: to move whole); the developer's for the
        outsider, who holds none."""
        return self.tickets.get(seat, self.tickets["developer"])[which]

    def lender(self, seat: str) -> str:
        """A bank other than `seat` to pledge to."""
        return self.second_bank if seat == "bank" else self.address("bank")


EACH_MEMBER_HOLDS = 10 * TONNE
# The seat governance designated as its successor (the handover delay has passed in the world).
SUCCESSOR = "trader2"


@pytest.fixture(scope="module")
def world(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[World]:
    snap = chain.rpc("evm_snapshot")
    try:
        ledger = Ledger(chain, deployment)
        s = Scenario(ledger, acc)
        m_approved = s.methodology()
        m_registered = s.methodology(approve=False)
        p_registered = s.project(m_approved, stage="registered")
        p_validated = s.project(m_approved, stage="validated")
        p_approved = s.project(m_approved)
        batch = s.batch(quantity=1_000 * TONNE, project_id=p_approved).batch_id
        report_verified = s.report(p_approved, 100 * TONNE)
        report_pending = s.report(p_approved, 100 * TONNE, stage="pending")
        report_attested = s.report(p_approved, 100 * TONNE, stage="attested")
        fresh_period = s.period(p_approved)
        disturbance_pending = s.disturbance(p_approved, 5 * TONNE, stage="pending")
        disturbance_attested = s.disturbance(p_approved, 5 * TONNE, stage="attested")
        disturbance_confirmed = s.disturbance(p_approved, 5 * TONNE)
        fresh_event = s.event_time()
        frozen_batch = s.batch(quantity=10 * TONNE).batch_id
        ledger.freeze_batch(acc["regulator"], frozen_batch, doc("batch freeze order"))
        for seat in SEATS:
            if seat.key not in ("developer", "outsider"):
                ledger.transfer(acc["developer"], acc[seat.key].address, batch, EACH_MEMBER_HOLDS)
        fill = _trading_world(ledger, acc, batch)
        order, offer = _compensation_world(ledger, acc, batch)
        forest_report, held = _ticket_world(s, acc)
        ticket_order = Compensation(ledger).register_order(
            acc["procuratorate"], TICKET_CASE,
            _order_terms(chain, acc, (SinkCategory.FOREST,))).id
        second_bank, pledge_open, pledge_matured = _pledge_world(ledger, acc, held)
        shelf_ticket = _retail_world(ledger, acc, held, batch)
        forwards = forward_world(ledger, acc, m_approved)
        frozen_member = dev_account(len(SEATS)).address
        ledger.admit(acc["governance"], frozen_member, "被冻结成员 Frozen member")
        ledger.freeze_account(acc["regulator"], frozen_member, doc("account freeze order"))
        ledger.begin_governance_transfer(acc["governance"], acc[SUCCESSOR].address)
        chain.rpc("evm_increaseTime", DEFAULT_GOVERNANCE_DELAY + 1)
        chain.rpc("evm_mine")
        yield World(
            chain=chain,
            deployment=deployment,
            acc=acc,
            methodology_registered=m_registered,
            methodology_approved=m_approved,
            project_registered=p_registered,
            project_validated=p_validated,
            project_approved=p_approved,
            report_pending=report_pending,
            report_attested=report_attested,
            report_verified=report_verified,
            fresh_period=fresh_period,
            disturbance_pending=disturbance_pending,
            disturbance_attested=disturbance_attested,
            disturbance_confirmed=disturbance_confirmed,
            fresh_event=fresh_event,
            batch=batch,
            fill=fill,
            frozen_batch=frozen_batch,
            frozen_member=frozen_member,
            newcomer=dev_account(len(SEATS) + 1).address,
            successor=acc[SUCCESSOR].address,
            order=order,
            offer=offer,
            ticket_order=ticket_order,
            forest_report=forest_report,
            tickets=held,
            second_bank=second_bank,
            pledge_open=pledge_open,
            pledge_matured=pledge_matured,
            shelf_ticket=shelf_ticket,
            forwards=forwards,
        )
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def _trading_world(ledger: Ledger, acc: dict[str, LocalAccount], batch: int) -> tuple[Any, ...]:
    """Cash in every member's hands (each allowing itself to move it, for transferFrom), two
    listed instruments, and one valid, signed, unsettled trade of the batch."""
    sc = SettlementChain(ledger)
    for seat in SEATS:
        if seat.key != "outsider":
            sc.deposit(acc["bank"], acc[seat.key].address, 100_000_00, doc("deposit"))
            ledger.chain.send(sc.cash.functions.approve(acc[seat.key].address, 10**12),
                              acc[seat.key])
    sc.list_instrument(acc["exchange"], 1, batch_id=batch)
    sc.list_instrument(acc["exchange"], 2, batch_id=batch)
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    sell = Order(acc["trader1"].address, 1, 2, 60_000, 2 * TONNE, 0, 1, 2**40, batch_id=batch)
    buy = Order(acc["trader2"].address, 0, 2, 60_000, 2 * TONNE, 0, 1, 2**40)
    return Fill(1, batch, TONNE, 60_000, True, buy, sign_order(acc["trader2"], buy, sc.domain),
                sell, sign_order(acc["trader1"], sell, sc.domain)).as_tuple()


# The world's compensation order: every member but its authority is a party, the authority pays.
WORLD_CASE = "(2025)桂0702民初45号"
# The world's order that forest tickets count toward (forest carbon admitted).
TICKET_CASE = "(2025)闽0402刑初88号"


def _now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def _order_terms(chain: Chain, acc: dict[str, LocalAccount],
                 categories: tuple[SinkCategory, ...] = (SinkCategory.MANGROVE,)) -> Terms:
    parties = tuple(acc[seat.key].address for seat in SEATS
                    if seat.key not in ("procuratorate", "outsider"))
    return Terms(unit=Unit.TONNES, required=1_000 * TONNE, categories=categories,
                 deadline=_now(chain) + 365 * 86_400, party_names=("钦州港务集团 Qinzhou Port",),
                 document_hash=doc("judgment"), parties=parties, authority_pays=True)


def _compensation_world(ledger: Ledger, acc: dict[str, LocalAccount],
                        batch: int) -> tuple[int, int]:
    """An open order of the procuratorate and the developer's offer to it, which every
    member's cash is allowed to pay for."""
    comp = Compensation(ledger)
    order = comp.register_order(acc["procuratorate"], WORLD_CASE,
                                _order_terms(ledger.chain, acc)).id
    offer = comp.make_offer(acc["developer"], order, batch, 100 * TONNE, 100_00,
                            _now(ledger.chain) + 365 * 86_400).id
    comp.approve_offers(acc["developer"])
    for seat in SEATS:
        if seat.key != "outsider":
            comp.allow_cash(acc[seat.key], 10**12)
    return order, offer


def _ticket_world(s: Scenario,
                  acc: dict[str, LocalAccount]) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """A verified forest report not yet ticketed, and three tickets of one slot in the hands
    of every member."""
    tickets = Tickets(s.ledger)
    issued = s.ticket(1_000 * TONNE)
    _, fresh = s.forest_report(100 * TONNE, project_id=tickets.slot(issued.slot).project_id)
    dev = acc["developer"]
    held: dict[str, tuple[int, int, int]] = {}
    for seat in SEATS:
        if seat.key == "outsider":
            continue
        to = acc[seat.key].address
        if seat.key == "developer":
            held[seat.key] = (issued.token_id, tickets.split(dev, issued.token_id, TONNE),
                              tickets.split(dev, issued.token_id, TONNE))
        else:
            held[seat.key] = tuple(  # type: ignore[assignment]
                tickets.transfer(dev, issued.token_id, to, v)
                for v in (EACH_MEMBER_HOLDS, TONNE, TONNE))
    return fresh, held


LOAN = doc("林票质押贷款合同 pledge loan contract")
FAR = 2**40


def _pledge_world(ledger: Ledger, acc: dict[str, LocalAccount],
                  held: dict[str, tuple[int, int, int]]) -> tuple[str, int, int]:
    """Every member lets the register escrow its tickets and credits; a second bank; two
    pledges of the developer to the bank seat, one maturing in a day (matured once the world's
    clock has moved on)."""
    pledges = Pledges(ledger)
    for seat in SEATS:
        if seat.key != "outsider":
            pledges.approve_tickets(acc[seat.key])
            pledges.approve_credits(acc[seat.key])
    second_bank = dev_account(len(SEATS) + 2).address
    ledger.admit(acc["governance"], second_bank, "第二家银行 Second bank")
    ledger.grant_role(acc["governance"], "BANK", second_bank)
    dev, bank = acc["developer"], acc["bank"].address
    now = _now(ledger.chain)
    pledge_open = pledges.pledge_ticket(dev, held["developer"][0], TONNE, bank, LOAN, 100_00,
                                        FAR).pledge_id
    pledge_matured = pledges.pledge_ticket(dev, held["developer"][0], TONNE, bank, LOAN, 100_00,
                                           now + 86_400).pledge_id
    return second_bank, pledge_open, pledge_matured


def _retail_world(ledger: Ledger, acc: dict[str, LocalAccount],
                  held: dict[str, tuple[int, int, int]], batch: int) -> int:
    """The retail seat lets the supermarket stock from its tickets and credits and has put
    2 t of its main ticket and 2 t of the batch on the shelf; the shelf ticket."""
    market, seat = Supermarket(ledger), acc["retail"]
    market.approve_tickets(seat)
    market.approve_credits(seat)
    shelf = market.stock_ticket(seat, held["retail"][0], 2 * TONNE)
    market.stock_credits(seat, batch, 2 * TONNE)
    return shelf


RETAIL_BUYER = "恩施市民 Enshi resident"


def _own_order(w: World, seat: str) -> tuple[Any, ...]:
    return Order(w.address(seat), 0, 2, 60_000, TONNE, 0, 7, 2**40).as_tuple()


ORDER = "(address,uint8,uint64,uint64,uint128,uint128,uint16,uint8,uint64,uint64,bytes32,uint64)"
SIG = "(bytes32,bytes32)"
FILL = f"(uint64,uint64,uint128,uint128,bool,{ORDER},{SIG},{ORDER},{SIG})"
TERMS = "(uint8,uint128,uint16,uint32[],uint64,uint64,uint64,address[],string[],bool,bytes32)"


# -- the matrix -------------------------------------------------------------------------------

Args = Callable[[World, str], tuple[Any, ...]]


@dataclass(frozen=True)
class Row:
    """One state-changing function, the roles that may call it, and valid arguments for `seat`."""

    contract: str
    signature: str
    allowed: frozenset[str]
    gate: Gate
    args: Args
    # The role a consortium gate names in NotAuthorized (the first allowed role otherwise).
    denied_role: str | None = None
    # For the `self` gate: the only seat that may make the call.
    self_seat: str | None = None
    # For the `contract` and `owner` gates: the error every (other) seat gets.
    contract_error: str = "NotCreditsContract"
    # For the `owner` gate: the object the error names, besides the caller.
    owned: Callable[[World], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.contract}.{self.signature}"

    @property
    def name(self) -> str:
        return f"{self.contract}.{self.signature.split('(')[0]}"

    def function(self, w: World, seat: str) -> ContractFunction:
        bound = w.contract(self.contract).get_function_by_signature(self.signature)
        return bound(*self.args(w, seat))


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


ANYONE = roles("ANYONE")


def _retire_args(w: World, seat: str) -> tuple[Any, ...]:
    return (w.batch, TONNE, "福清市人民检察院 Fuqing Procuratorate",
            int(Purpose.ECOLOGICAL_COMPENSATION), "(2025)闽0181民初123号")


def _relayed_retirement(w: World, seat: str) -> tuple[Any, ...]:
    """A retirement signed by the developer with its own key, relayed by `seat`."""
    credits = w.contract("CarbonCredits")
    fn = credits.functions.retire(w.batch, TONNE, "钦州港务集团 Qinzhou Port Group",
                                  int(Purpose.VOLUNTARY), "")
    return forward_request(w.chain, w.contract("TanhuiForwarder"), w.acc["developer"], fn)


MATRIX: tuple[Row, ...] = (
    # Consortium: membership, roles, freezes.
    Row("Consortium", "admit(address,string,bytes32)", roles("GOVERNANCE", "REGISTRY_OPERATOR"),
        "consortium", lambda w, s: (w.newcomer, "新成员 Newcomer", doc("kyc")),
        denied_role="REGISTRY_OPERATOR"),
    Row("Consortium", "remove(address)", roles("GOVERNANCE", "REGISTRY_OPERATOR"), "consortium",
        lambda w, s: (w.address("trader3"),), denied_role="REGISTRY_OPERATOR"),
    Row("Consortium", "freeze(address,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.address("trader3"), doc("freeze order"))),
    Row("Consortium", "unfreeze(address,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.frozen_member, doc("unfreeze order"))),
    Row("Consortium", "grantRole(bytes32,address)", roles("GOVERNANCE"), "admin",
        lambda w, s: (role_id("VERIFIER"), w.address("trader3"))),
    Row("Consortium", "revokeRole(bytes32,address)", roles("GOVERNANCE"), "admin",
        lambda w, s: (role_id("ORACLE"), w.address("oracle3"))),
    Row("Consortium", "renounceRole(bytes32,address)", roles("ORACLE"), "self",
        lambda w, s: (role_id("ORACLE"), w.address("oracle1")), self_seat="oracle1"),
    # Governance is handed over in two steps, the successor accepting after the delay.
    Row("Consortium", "beginDefaultAdminTransfer(address)", roles("GOVERNANCE"), "admin",
        lambda w, s: (w.address("trader1"),)),
    Row("Consortium", "cancelDefaultAdminTransfer()", roles("GOVERNANCE"), "admin",
        lambda w, s: ()),
    Row("Consortium", "acceptDefaultAdminTransfer()", frozenset(), "successor",
        lambda w, s: (), self_seat=SUCCESSOR),
    Row("Consortium", "changeDefaultAdminDelay(uint48)", roles("GOVERNANCE"), "admin",
        lambda w, s: (3 * 86_400,)),
    Row("Consortium", "rollbackDefaultAdminDelay()", roles("GOVERNANCE"), "admin",
        lambda w, s: ()),
    # MethodologyRegistry: registered by the operator, decided by the regulator.
    Row("MethodologyRegistry", "register(string,string,bytes32,bytes32,uint16,uint8)",
        roles("REGISTRY_OPERATOR"), "consortium",
        lambda w, s: ("CM-BC-900-V01", "海草床修复 Seagrass restoration", doc("method"),
                      doc("params"), 1_500, int(SinkCategory.SEAGRASS))),
    Row("MethodologyRegistry", "approve(uint256)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.methodology_registered,)),
    Row("MethodologyRegistry", "reject(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.methodology_registered, doc("rejection"))),
    Row("MethodologyRegistry", "deprecate(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.methodology_approved, doc("deprecation"))),
    # ProjectRegistry: any member registers; a verifier validates; the regulator decides.
    Row("ProjectRegistry",
        "register(string,uint256,(uint32,int32,int32,uint64,bytes32),uint64,uint64,bytes32)",
        roles("MEMBER"), "consortium",
        lambda w, s: ("钦州湾海草床 Qinzhou Bay seagrass", w.methodology_approved,
                      MAOWEI.to_abi(), 1_577_836_800, 1_893_456_000, doc("pdd"))),
    Row("ProjectRegistry", "validate(uint256,bytes32)", roles("VERIFIER"), "consortium",
        lambda w, s: (w.project_registered, doc("validation"))),
    Row("ProjectRegistry", "approve(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.project_validated, doc("approval"))),
    Row("ProjectRegistry", "reject(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.project_registered, doc("rejection"))),
    # Only a registered project's developer declares its parcels; only ForestTickets binds a
    # ticketed parcel.
    Row("ProjectRegistry", "declareParcels(uint256,string[])", frozenset(), "owner",
        lambda w, s: (w.project_registered, ["闽(2020)三明市林权第0000009号"]),
        self_seat="developer", contract_error="NotProjectDeveloper",
        owned=lambda w: {"projectId": w.project_registered}),
    Row("ProjectRegistry", "bindParcel(uint256,string)", frozenset(), "contract",
        lambda w, s: (w.project_approved, "闽(2020)三明市林权第0000010号"),
        contract_error="NotTicketsContract"),
    # MonitoringReports: oracle nodes attest, a verifier verifies or rejects, governance sets k.
    Row("MonitoringReports", "attest(uint256,uint64,uint64,bytes32,uint256,bytes32)",
        roles("ORACLE"), "consortium",
        lambda w, s: (w.project_approved, *w.fresh_period, doc("root"), 50 * TONNE,
                      doc("report"))),
    Row("MonitoringReports", "verify(uint256,uint256,bytes32)", roles("VERIFIER"), "consortium",
        lambda w, s: (w.report_attested, 90 * TONNE, doc("verification"))),
    Row("MonitoringReports", "reject(uint256,bytes32)", roles("VERIFIER"), "consortium",
        lambda w, s: (w.report_pending, doc("rejection"))),
    Row("MonitoringReports", "setThreshold(uint16)", roles("GOVERNANCE"), "consortium",
        lambda w, s: (3,)),
    # DisturbanceReports: oracle nodes attest a disturbance, a verifier confirms or rejects it;
    # only CarbonCredits draws a confirmed loss.
    Row("DisturbanceReports", "attest(uint256,uint8,uint64,uint256,bytes32)", roles("ORACLE"),
        "consortium",
        lambda w, s: (w.project_approved, 2, w.fresh_event, 3 * TONNE, doc("typhoon evidence"))),
    Row("DisturbanceReports", "confirm(uint256,uint256,bytes32)", roles("VERIFIER"),
        "consortium", lambda w, s: (w.disturbance_attested, 4 * TONNE, doc("loss statement"))),
    Row("DisturbanceReports", "reject(uint256,bytes32)", roles("VERIFIER"), "consortium",
        lambda w, s: (w.disturbance_pending, doc("rejection"))),
    Row("DisturbanceReports", "consumeLoss(uint256,uint256,uint256)", frozenset(), "contract",
        lambda w, s: (w.disturbance_confirmed, w.project_approved, TONNE)),
    # CarbonCredits: the operator issues; holders move and retire; the regulator freezes and
    # cancels the buffer.
    Row("CarbonCredits", "issue(uint256)", roles("REGISTRY_OPERATOR"), "consortium",
        lambda w, s: (w.report_verified,)),
    Row("CarbonCredits", "retire(uint256,uint256,string,uint8,string)", roles("MEMBER"),
        "holder", _retire_args),
    Row("CarbonCredits", "safeTransferFrom(address,address,uint256,uint256,bytes)",
        roles("MEMBER"), "holder",
        lambda w, s: (w.address(s), w.counterparty(s), w.batch, TONNE, b"")),
    Row("CarbonCredits", "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        roles("MEMBER"), "holder",
        lambda w, s: (w.address(s), w.counterparty(s), [w.batch], [TONNE], b"")),
    Row("CarbonCredits", "setApprovalForAll(address,bool)", roles("MEMBER"), "holder",
        lambda w, s: (w.counterparty(s), True)),
    Row("CarbonCredits", "cancelBufferForDisturbance(uint256,uint256,uint256)",
        roles("REGULATOR"), "consortium",
        lambda w, s: (w.disturbance_confirmed, w.batch, TONNE)),
    Row("CarbonCredits", "freezeBatch(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.batch, doc("batch freeze order"))),
    Row("CarbonCredits", "unfreezeBatch(uint256,bytes32)", roles("REGULATOR"), "consortium",
        lambda w, s: (w.frozen_batch, doc("batch unfreeze order"))),
    Row("CarbonCredits", "onERC1155Received(address,address,uint256,uint256,bytes)", ANYONE,
        "open", lambda w, s: (w.address(s), w.address(s), w.batch, TONNE, b"")),
    Row("CarbonCredits",
        "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", ANYONE, "open",
        lambda w, s: (w.address(s), w.address(s), [w.batch], [TONNE], b"")),
    # CashToken: members move their cash; the bank books deposits and withdrawals.
    Row("CashToken", "approve(address,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.counterparty(s), 500)),
    Row("CashToken", "transfer(address,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.counterparty(s), 500)),
    Row("CashToken", "transferFrom(address,address,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.address(s), w.counterparty(s), 500)),
    Row("CashToken", "deposit(address,uint256,bytes32)", roles("BANK"), "consortium",
        lambda w, s: (w.address("trader1"), 10_000, doc("incoming wire"))),
    Row("CashToken", "withdraw(address,uint256,bytes32)", roles("BANK"), "consortium",
        lambda w, s: (w.address("trader1"), 10_000, doc("outgoing wire"))),
    Row("CashToken", "settlementTransfer(address,address,uint256)", frozenset(), "contract",
        lambda w, s: (w.address(s), w.counterparty(s), 500),
        contract_error="NotSettlementContract"),
    # Settlement: the exchange lists, sets fees and settles; traders cancel their own orders
    # (anyone may call, but only for orders it signed: see tests/exchange/test_settlement.py).
    Row("Settlement", "listInstrument(uint64,uint64,uint64,uint64,uint64,uint64,uint64)",
        roles("EXCHANGE"), "consortium", lambda w, s: (9, w.batch, 0, 0, 0, TONNE, 1)),
    Row("Settlement", "listTicketInstrument(uint64,uint32,uint8,uint64,uint64,uint64,uint64)",
        roles("EXCHANGE"), "consortium", lambda w, s: (19, 45, 2, 0, 2**40, TONNE, 1)),
    Row("Settlement", "delistInstrument(uint64)", roles("EXCHANGE"), "consortium",
        lambda w, s: (1,)),
    Row("Settlement", "setFees(address,uint16,uint16)", roles("EXCHANGE"), "consortium",
        lambda w, s: (w.address("exchange"), 10, 20)),
    Row("Settlement", f"settle({FILL}[])", roles("EXCHANGE"), "consortium",
        lambda w, s: ([w.fill],)),
    Row("Settlement", f"cancelOrder({ORDER})", ANYONE, "open",
        lambda w, s: (_own_order(w, s),)),
    Row("Settlement", "raiseMinNonce(uint64)", ANYONE, "open", lambda w, s: (5,)),
    # CompensationOrders: an authority registers; only the order's authority amends or closes
    # it; only CarbonCredits counts retirements toward it.
    Row("CompensationOrders", f"register(string,{TERMS})", roles("AUTHORITY"), "consortium",
        lambda w, s: ("(2025)桂0702民初46号", _order_terms(w.chain, w.acc).to_abi())),
    Row("CompensationOrders", f"amend(uint256,{TERMS},bytes32)", roles("AUTHORITY"),
        "consortium",
        lambda w, s: (w.order, _order_terms(w.chain, w.acc).to_abi(), doc("ruling on appeal"))),
    Row("CompensationOrders", "close(uint256,bytes32)", roles("AUTHORITY"), "consortium",
        lambda w, s: (w.order, doc("set aside"))),
    Row("CompensationOrders",
        "countRetirement(uint256,uint256,address,uint256,uint256,address,uint256)", frozenset(),
        "contract", lambda w, s: (w.order, 1, w.address(s), w.batch, TONNE, ZERO_ADDRESS, 0)),
    # ...and only ForestTickets counts ticket retirements.
    Row("CompensationOrders",
        "countTicketRetirement(uint256,uint256,address,uint256,uint256,uint256)", frozenset(),
        "contract", lambda w, s: (w.ticket_order, 1, w.address(s), w.forest_report, TONNE, 1),
        contract_error="NotTicketsContract"),
    # CarbonCredits for orders: a party retires its own credits; only a venue retires a purchase.
    Row("CarbonCredits", "retireForOrder(uint256,uint256,string,uint256)", roles("MEMBER"),
        "holder", lambda w, s: (w.batch, TONNE, "", w.order)),
    Row("CarbonCredits",
        "retireOnPurchase(address,address,uint256,uint256,uint256,uint256,string)", frozenset(),
        "contract",
        lambda w, s: (w.address("developer"), w.address(s), w.batch, TONNE, w.order, 100_00, ""),
        contract_error="NotPurchaseVenue"),
    # CompensationOffers: holders offer and take (the order checks the taker is a party); only
    # the seller withdraws.
    Row("CompensationOffers", "offer(uint256,uint256,uint128,uint128,uint64)", roles("MEMBER"),
        "holder",
        lambda w, s: (w.order, w.batch, TONNE, 100_00, _now(w.chain) + 30 * 86_400)),
    Row("CompensationOffers", "withdraw(uint256)", frozenset(), "owner",
        lambda w, s: (w.offer,), self_seat="developer", contract_error="NotOfferSeller",
        owned=lambda w: {"offerId": w.offer}),
    Row("CompensationOffers", "take(uint256,uint128,string)", roles("MEMBER"), "holder",
        lambda w, s: (w.offer, TONNE, "")),
    # MonitoringReports: only the two registers claim a verified report for issuance.
    Row("MonitoringReports", "claim(uint256)", frozenset(), "contract",
        lambda w, s: (w.report_verified,), contract_error="NotIssuingRegister"),
    # ForestTickets: the forestry authority issues; owners (or their operators) split, merge,
    # transfer; owners retire.
    Row("ForestTickets", "issue(uint256,string)", roles("FORESTRY"), "consortium",
        lambda w, s: (w.forest_report, "闽(2021)三明市林权第0000001号")),
    Row("ForestTickets", "split(uint256,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.ticket(s), TONNE)),
    Row("ForestTickets", "merge(uint256,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.ticket(s, 1), w.ticket(s))),
    Row("ForestTickets", "transferFrom(uint256,address,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.ticket(s), w.counterparty(s), TONNE)),
    Row("ForestTickets", "transferFrom(uint256,uint256,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.ticket(s), w.ticket(w.counterparty_seat(s)), TONNE)),
    Row("ForestTickets", "transferFrom(address,address,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.address(s), w.counterparty(s), w.ticket(s, 2))),
    Row("ForestTickets", "setApprovalForAll(address,bool)", roles("MEMBER"), "holder",
        lambda w, s: (w.counterparty(s), True)),
    Row("ForestTickets", "retire(uint256,uint256,string,uint8,string)", roles("MEMBER"),
        "holder", lambda w, s: (w.ticket(s), TONNE, "三明市沙县区 Shaxian District", 0, "")),
    # ...and retire for a compensation order (a party, or the authority that pays).
    Row("ForestTickets", "retireForOrder(uint256,uint256,uint256,string)", roles("MEMBER"),
        "holder", lambda w, s: (w.ticket(s), TONNE, w.ticket_order, "")),
    # PledgeRegister: holders pledge to a bank; only the pledge's bank releases or forecloses.
    Row("PledgeRegister", "pledgeTicket(uint256,uint256,address,bytes32,uint256,uint64)",
        roles("MEMBER"), "holder",
        lambda w, s: (w.ticket(s), TONNE, w.lender(s), LOAN, 100_00, FAR)),
    Row("PledgeRegister", "pledgeCredits(uint256,uint256,address,bytes32,uint256,uint64)",
        roles("MEMBER"), "holder",
        lambda w, s: (w.batch, TONNE, w.lender(s), LOAN, 100_00, FAR)),
    Row("PledgeRegister", "release(uint256)", roles("BANK"), "consortium",
        lambda w, s: (w.pledge_open,)),
    Row("PledgeRegister", "foreclose(uint256)", roles("BANK"), "consortium",
        lambda w, s: (w.pledge_matured,)),
    # CarbonSupermarket: retail seats stock, sell from and withdraw their own stock.
    Row("CarbonSupermarket", "stockTicket(uint256,uint256)", roles("RETAIL"), "consortium",
        lambda w, s: (w.ticket(s), TONNE)),
    Row("CarbonSupermarket", "stockCredits(uint256,uint256)", roles("RETAIL"), "consortium",
        lambda w, s: (w.batch, TONNE)),
    Row("CarbonSupermarket", "sellTicket(uint256,uint256,string,string,uint256)",
        roles("RETAIL"), "consortium",
        lambda w, s: (w.shelf_ticket, TONNE // 2, RETAIL_BUYER, "ES-0001", 7_50)),
    Row("CarbonSupermarket", "sellCredits(uint256,uint256,string,string,uint256)",
        roles("RETAIL"), "consortium",
        lambda w, s: (w.batch, 1_000, RETAIL_BUYER, "ES-0002", 2)),
    Row("CarbonSupermarket", "withdrawTicket(uint256,uint256)", roles("RETAIL"), "consortium",
        lambda w, s: (w.shelf_ticket, TONNE)),
    Row("CarbonSupermarket", "withdrawCredits(uint256,uint256)", roles("RETAIL"), "consortium",
        lambda w, s: (w.batch, TONNE)),
    # ForwardMarket: the exchange lists, records trades, settles days and delivery and closes
    # out unmet margin calls; members keep margin, deliver and pay; anyone cancels its own order.
    Row("ForwardMarket", f"listContract(uint64,{FORWARD_TERMS_ABI})", roles("EXCHANGE"),
        "consortium", lambda w, s: (109, w.forwards.terms)),
    Row("ForwardMarket", "depositMargin(uint64,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.forwards.trading, 100)),
    Row("ForwardMarket", "withdrawMargin(uint64,uint256)", roles("MEMBER"), "holder",
        lambda w, s: (w.forwards.trading, 100)),
    Row("ForwardMarket", f"recordTrades({FORWARD_TRADE_ABI}[])", roles("EXCHANGE"),
        "consortium", lambda w, s: ([w.forwards.trade],)),
    Row("ForwardMarket", f"cancelOrder({FORWARD_ORDER_ABI})", ANYONE, "open",
        lambda w, s: (w.forwards.own_order(w.address(s)),)),
    Row("ForwardMarket", "postSettlement(uint64,uint64,uint64)", roles("EXCHANGE"),
        "consortium", lambda w, s: (w.forwards.trading, w.forwards.day, 6_000)),
    Row("ForwardMarket", "settleBatch(uint64,uint256)", roles("EXCHANGE"), "consortium",
        lambda w, s: (w.forwards.settling, 1)),
    Row("ForwardMarket",
        f"forceClose(uint64,address,{FORWARD_ORDER_ABI},(bytes32,bytes32))",
        roles("EXCHANGE"), "consortium", lambda w, s: w.forwards.close_out),
    Row("ForwardMarket", "deliver(uint64,uint64)", roles("MEMBER"), "holder",
        lambda w, s: (w.forwards.shorts, w.batch)),
    Row("ForwardMarket", "pay(uint64)", roles("MEMBER"), "holder",
        lambda w, s: (w.forwards.longs,)),
    Row("ForwardMarket", "settleDelivery(uint64,uint256)", roles("EXCHANGE"), "consortium",
        lambda w, s: (w.forwards.delivered, 10)),
    Row("ForwardMarket", "onERC1155Received(address,address,uint256,uint256,bytes)", ANYONE,
        "open", lambda w, s: (w.address(s), w.address(s), w.batch, TONNE, b"")),
    Row("ForwardMarket",
        "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", ANYONE, "open",
        lambda w, s: (w.address(s), w.address(s), [w.batch], [TONNE], b"")),
    # ForwardDelivery: the market's delivery module runs only inside ForwardMarket (delegatecall).
    Row("ForwardDelivery", "deliver(uint64,uint64)", frozenset(), "contract",
        lambda w, s: (w.forwards.shorts, w.batch), contract_error="NotDelegated"),
    Row("ForwardDelivery", "pay(uint64)", frozenset(), "contract",
        lambda w, s: (w.forwards.longs,), contract_error="NotDelegated"),
    Row("ForwardDelivery", "settleDelivery(uint64,uint256)", frozenset(), "contract",
        lambda w, s: (w.forwards.delivered, 10), contract_error="NotDelegated"),
    # TanhuiForwarder: anyone relays; the signed request is what is authorized.
    Row("TanhuiForwarder", "execute((address,address,uint256,uint256,uint48,bytes,bytes))",
        ANYONE, "open", lambda w, s: (_relayed_retirement(w, s),)),
    Row("TanhuiForwarder",
        "executeBatch((address,address,uint256,uint256,uint48,bytes,bytes)[],address)",
        ANYONE, "open", lambda w, s: ([_relayed_retirement(w, s)], ZERO_ADDRESS)),
)


# -- who is allowed, and how the others are turned away ----------------------------------------


def seat_roles(seat: Seat) -> frozenset[str]:
    """Roles a seat holds; every admitted seat is a MEMBER, the outsider holds nothing."""
    if seat.key == "outsider":
        return frozenset()
    return frozenset(seat.roles) | {"MEMBER"}


def is_allowed(row: Row, seat: Seat) -> bool:
    if row.gate == "open":
        return True
    if row.gate in ("self", "successor", "owner"):
        return seat.key == row.self_seat
    if row.gate == "contract":
        return False
    return bool(row.allowed & seat_roles(seat))


def expected_denial(row: Row, seat: Seat, address: str,
                    w: World | None = None) -> tuple[str, dict[str, Any]]:
    """The authorization error a seat that may not call `row` must get."""
    if row.gate == "admin":
        return "AccessControlUnauthorizedAccount", {
            "account": address, "neededRole": "0x" + role_id("GOVERNANCE").hex()
        }
    if row.gate == "self":
        return "AccessControlBadConfirmation", {}
    if row.gate == "successor":
        return "AccessControlInvalidDefaultAdmin", {"defaultAdmin": address}
    if row.gate == "contract":
        return row.contract_error, {"caller": address}
    if row.gate == "owner":
        assert row.owned is not None and w is not None
        return row.contract_error, {**row.owned(w), "caller": address}
    if seat.key == "outsider":
        return "NotMember", {"account": address}
    role = row.denied_role or sorted(row.allowed)[0]
    return "NotAuthorized", {"account": address, "role": "0x" + role_id(role).hex()}


CASES = [pytest.param(row, seat, id=f"{row.name}[{seat.key}]") for row in MATRIX for seat in SEATS]


def test_matrix_covers_every_state_changing_function(deployment: Deployment) -> None:
    declared = [row.key for row in MATRIX]
    assert len(declared) == len(set(declared)), "a function has two rows"
    in_abi = {
        f"{name}.{signature(item)}"
        for name in CONTRACTS
        for item in deployment.abis[name]
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert set(declared) == in_abi


def test_every_seat_of_the_roster_is_tried() -> None:
    keys = {seat.key for seat in SEATS}
    assert "outsider" in keys  # the non-member
    assert any(not seat.roles and seat.key != "outsider" for seat in SEATS)  # a plain member
    assert all(any(r in seat.roles for seat in SEATS) for r in ("GOVERNANCE", "REGULATOR",
               "REGISTRY_OPERATOR", "VERIFIER", "ORACLE", "EXCHANGE", "BANK", "AUTHORITY",
               "FORESTRY", "RETAIL"))


@pytest.mark.parametrize(("row", "seat"), CASES)
def test_only_declared_roles_may_call(world: World, ledger: Ledger, row: Row, seat: Seat) -> None:
    account = world.acc[seat.key]
    fn = row.function(world, seat.key)
    if is_allowed(row, seat):
        world.chain.simulate(fn, account.address)
        sent = world.chain.send(fn, account)
        assert sent.receipt["status"] == 1
    else:
        with pytest.raises(ChainRevert) as denied:
            world.chain.simulate(fn, account.address)
        name, args = expected_denial(row, seat, account.address, world)
        assert denied.value.error is not None
        assert (denied.value.name, denied.value.error.args) == (name, args)


# -- what the gates mean beyond a single call ---------------------------------------------------


def test_only_members_can_be_approved_as_operators(world: World, ledger: Ledger) -> None:
    credits = world.contract("CarbonCredits")
    fn = credits.functions.setApprovalForAll(world.address("outsider"), True)
    with pytest.raises(ChainRevert) as denied:
        world.chain.send(fn, world.acc["trader1"])
    assert (denied.value.name, denied.value.error and denied.value.error.args) == (
        "NotMember", {"account": world.address("outsider")}
    )


def test_an_operator_removed_from_the_consortium_can_no_longer_move_credits(
    world: World, ledger: Ledger
) -> None:
    credits = world.contract("CarbonCredits")
    holder, operator = world.acc["trader1"], world.acc["exchange"]
    world.chain.send(credits.functions.setApprovalForAll(operator.address, True), holder)
    move = credits.functions.safeTransferFrom(
        holder.address, world.address("trader2"), world.batch, TONNE, b""
    )
    world.chain.send(move, operator)  # an approved member operator moves the holder's credits
    ledger.remove_member(world.acc["governance"], operator.address)
    with pytest.raises(ChainRevert) as denied:
        world.chain.send(move, operator)
    assert denied.value.name == "NotMember"
    assert ledger.balance(holder.address, world.batch) == EACH_MEMBER_HOLDS - TONNE


def test_a_renounced_role_stops_authorizing_at_once(world: World, ledger: Ledger) -> None:
    regulator = world.acc["regulator"]
    ledger.chain.send(
        world.contract("Consortium").functions.renounceRole(
            role_id("REGULATOR"), regulator.address
        ),
        regulator,
    )
    with pytest.raises(ChainRevert) as denied:
        ledger.freeze_batch(regulator, world.batch)
    assert denied.value.name == "NotAuthorized"


def test_a_removed_member_loses_every_role(world: World, ledger: Ledger) -> None:
    ledger.remove_member(world.acc["governance"], world.address("verifier"))
    with pytest.raises(ChainRevert) as denied:
        ledger.validate_project(world.acc["verifier"], world.project_registered, doc("v"))
    assert denied.value.name == "NotMember"


def test_a_frozen_member_acts_in_no_role_and_cannot_move_or_retire_credits(
    world: World, ledger: Ledger
) -> None:
    regulator, operator = world.acc["regulator"], world.acc["operator"]
    ledger.freeze_account(regulator, operator.address, doc("freeze order"))
    assert ledger.holds_role("REGISTRY_OPERATOR", operator.address)  # kept on record
    with pytest.raises(ChainRevert) as denied:
        ledger.issue(operator, world.report_verified)
    assert (denied.value.name, denied.value.error and denied.value.error.args) == (
        "AccountFrozen", {"account": operator.address}
    )
    with pytest.raises(ChainRevert) as denied:
        ledger.transfer(operator, world.address("trader1"), world.batch, TONNE)
    assert denied.value.name == "AccountFrozen"
    with pytest.raises(ChainRevert) as denied:
        ledger.retire(operator, world.batch, TONNE, "北部湾碳汇登记中心")
    assert denied.value.name == "AccountFrozen"
