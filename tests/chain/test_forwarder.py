"""Members act with their own keys through the ERC-2771 forwarder: a member signs an EIP-712
ForwardRequest, another account relays it, and the registry records the signer as the actor.
The forwarder runs a request only as signed, only once and only before its deadline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.client import Chain, ChainRevert, Sent
from chain.deploy import Deployment
from chain.metatx import ForwardRequest, calldata, forward_request, sign_forward_request
from chain.roles import role_id
from devkit.roster import SEATS, Seat
from devkit.scenario import Scenario, doc
from registry.ledger import Ledger, Purpose

TONNE = 1_000_000


@dataclass(frozen=True)
class Setting:
    chain: Chain
    deployment: Deployment
    acc: dict[str, LocalAccount]
    batch: int

    def contract(self, name: str) -> Contract:
        return self.deployment.contract(self.chain, name)

    @property
    def forwarder(self) -> Contract:
        return self.contract("TanhuiForwarder")

    @property
    def credits(self) -> Contract:
        return self.contract("CarbonCredits")

    def sign(self, signer: str, fn: ContractFunction,
             **kwargs: int) -> tuple[str, str, int, int, int, bytes, bytes]:
        return forward_request(self.chain, self.forwarder, self.acc[signer], fn, **kwargs)

    def relay(self, relayer: str, request: tuple[str, str, int, int, int, bytes, bytes]) -> Sent:
        return self.chain.send(self.forwarder.functions.execute(request), self.acc[relayer])

    def retirement_by(self, amount: int) -> ContractFunction:
        return self.credits.functions.retire(
            self.batch, amount, "福清市人民检察院 Fuqing Procuratorate",
            int(Purpose.ECOLOGICAL_COMPENSATION), "(2025)闽0181民初123号",
        )


@pytest.fixture(scope="module")
def setting(chain: Chain, deployment: Deployment,
            acc: dict[str, LocalAccount]) -> Iterator[Setting]:
    snap = chain.rpc("evm_snapshot")
    try:
        batch = Scenario(Ledger(chain, deployment), acc).batch(quantity=1_000 * TONNE)
        yield Setting(chain, deployment, acc, batch.batch_id)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def eth_balance(s: Setting, seat: str) -> int:
    return int(s.chain.w3.eth.get_balance(s.acc[seat].address))


def test_a_relayed_retirement_is_the_signers_retirement(setting: Setting, ledger: Ledger) -> None:
    dev = setting.acc["developer"].address
    held = ledger.balance(dev, setting.batch)
    developer_eth = eth_balance(setting, "developer")
    request = setting.sign("developer", setting.retirement_by(326_400_000))

    sent = setting.chain.send(setting.forwarder.functions.execute(request), setting.acc["operator"])

    retired = ledger.events_of(sent, "Retired")[0].args
    assert retired["holder"] == dev
    assert (retired["amount"], retired["serialStart"]) == (326_400_000, 1)
    assert retired["caseReference"] == "(2025)闽0181民初123号"
    assert ledger.retirement(retired["retirementId"]).retirement.holder == dev
    assert ledger.balance(dev, setting.batch) == held - 326_400_000
    assert ledger.events_of(sent, "ExecutedForwardRequest")[0].args == {
        "signer": dev, "nonce": 0, "success": True
    }
    assert eth_balance(setting, "developer") == developer_eth  # the relayer paid the gas


def test_a_relayed_transfer_moves_the_signers_credits(setting: Setting, ledger: Ledger) -> None:
    dev, buyer = setting.acc["developer"].address, setting.acc["trader1"].address
    held = ledger.balance(dev, setting.batch)
    move = setting.credits.functions.safeTransferFrom(dev, buyer, setting.batch, 21_100_000, b"")

    sent = setting.chain.send(
        setting.forwarder.functions.execute(setting.sign("developer", move)),
        setting.acc["exchange"],
    )

    transfer = ledger.events_of(sent, "TransferSingle")[0].args
    assert (transfer["operator"], transfer["from"], transfer["to"]) == (dev, dev, buyer)
    assert ledger.balance(buyer, setting.batch) == 21_100_000
    assert ledger.balance(dev, setting.batch) == held - 21_100_000


def test_a_forged_signature_is_refused(setting: Setting, ledger: Ledger) -> None:
    dev = setting.acc["developer"]
    held = ledger.balance(dev.address, setting.batch)
    fn = setting.retirement_by(TONNE)
    fwd = setting.forwarder
    request = ForwardRequest(sender=dev.address, to=str(fn.address), data=calldata(fn),
                             gas=500_000, nonce=0, deadline=2**40)
    # trader1 signs a request that claims to come from the developer
    forged = sign_forward_request(request, setting.acc["trader1"], setting.chain.chain_id,
                                  str(fwd.address))

    with pytest.raises(ChainRevert) as refused:
        setting.relay("operator", request.with_signature(forged))

    assert refused.value.name == "ERC2771ForwarderInvalidSigner"
    assert refused.value.error is not None
    assert refused.value.error.args == {
        "signer": setting.acc["trader1"].address, "from": dev.address
    }
    assert ledger.balance(dev.address, setting.batch) == held


def test_a_request_altered_after_signing_is_refused(setting: Setting, ledger: Ledger) -> None:
    dev = setting.acc["developer"].address
    signed = setting.sign("developer", setting.retirement_by(TONNE))
    bigger = calldata(setting.retirement_by(500 * TONNE))
    altered = (signed[0], signed[1], signed[2], signed[3], signed[4], bigger, signed[6])

    with pytest.raises(ChainRevert) as refused:
        setting.relay("operator", altered)

    assert refused.value.name == "ERC2771ForwarderInvalidSigner"
    assert refused.value.error is not None and refused.value.error.args["from"] == dev
    assert refused.value.error.args["signer"] != dev


def test_a_request_runs_once(setting: Setting, ledger: Ledger) -> None:
    dev = setting.acc["developer"].address
    held = ledger.balance(dev, setting.batch)
    request = setting.sign("developer", setting.retirement_by(TONNE))
    setting.relay("operator", request)

    with pytest.raises(ChainRevert) as replayed:
        setting.relay("trader2", request)

    assert replayed.value.name == "ERC2771ForwarderInvalidSigner"  # the nonce moved on
    assert ledger.balance(dev, setting.batch) == held - TONNE
    assert int(setting.chain.call(setting.forwarder.functions.nonces(dev))) == 1


def test_an_expired_request_is_refused(setting: Setting, ledger: Ledger) -> None:
    dev = setting.acc["developer"].address
    held = ledger.balance(dev, setting.batch)
    now = int(setting.chain.w3.eth.get_block("latest")["timestamp"])
    request = setting.sign("developer", setting.retirement_by(TONNE), deadline=now - 1)

    with pytest.raises(ChainRevert) as refused:
        setting.relay("operator", request)

    assert refused.value.name == "ERC2771ForwarderExpiredRequest"
    assert refused.value.error is not None
    assert refused.value.error.args == {"deadline": now - 1}
    assert ledger.balance(dev, setting.batch) == held


def test_a_request_with_a_future_nonce_is_refused(setting: Setting, ledger: Ledger) -> None:
    request = setting.sign("developer", setting.retirement_by(TONNE), nonce=1)
    with pytest.raises(ChainRevert) as refused:
        setting.relay("operator", request)
    assert refused.value.name == "ERC2771ForwarderInvalidSigner"


def test_requests_only_reach_contracts_that_trust_the_forwarder(setting: Setting,
                                                                ledger: Ledger) -> None:
    dev = setting.acc["developer"]
    request = ForwardRequest(sender=dev.address, to=setting.acc["trader1"].address, data=b"",
                             gas=100_000, nonce=0, deadline=2**40)
    sig = sign_forward_request(request, dev, setting.chain.chain_id,
                               str(setting.forwarder.address))
    with pytest.raises(ChainRevert) as refused:
        setting.relay("operator", request.with_signature(sig))
    assert refused.value.name == "ERC2771UntrustfulTarget"


def test_a_relayer_cannot_lend_its_own_role(setting: Setting, ledger: Ledger) -> None:
    """The regulator relaying a member's signed batch freeze does not make it the regulator's."""
    freeze = setting.credits.functions.freezeBatch(setting.batch, doc("order"))
    with pytest.raises(ChainRevert) as refused:
        setting.relay("regulator", setting.sign("trader1", freeze))
    assert refused.value.name == "FailedCall"
    assert ledger.batch(setting.batch).frozen is False


def test_a_regulators_signed_freeze_works_whoever_relays_it(setting: Setting,
                                                            ledger: Ledger) -> None:
    freeze = setting.credits.functions.freezeBatch(setting.batch, doc("order"))
    sent = setting.chain.send(
        setting.forwarder.functions.execute(setting.sign("regulator", freeze)),
        setting.acc["trader1"],
    )
    assert ledger.batch(setting.batch).frozen is True
    assert ledger.events_of(sent, "BatchFreezeChanged")[0].args["by"] == (
        setting.acc["regulator"].address
    )


# Forwarded calls are authorized exactly like direct ones: for every seat as signer, a gated
# call arriving through the forwarder (calldata + signer, from the forwarder) gets the same
# answer the seat gets calling directly, and a relayed request succeeds exactly when that is
# success.

GATED = ("freezeBatch", "grantRole", "admit", "retire")


def gated_call(s: Setting, name: str) -> ContractFunction:
    consortium = s.contract("Consortium")
    if name == "freezeBatch":
        return s.credits.functions.freezeBatch(s.batch, doc("order"))
    if name == "grantRole":
        return consortium.functions.grantRole(role_id("VERIFIER"), s.acc["trader3"].address)
    if name == "admit":
        return consortium.functions.admit(
            to_checksum_address("0x" + "7a" * 20), "新成员 Newcomer", doc("kyc")
        )
    return s.retirement_by(TONNE)


def outcome_direct(s: Setting, fn: ContractFunction, seat: str) -> str:
    try:
        s.chain.simulate(fn, s.acc[seat].address)
    except ChainRevert as exc:
        return exc.name
    return "ok"


def outcome_forwarded(s: Setting, fn: ContractFunction, seat: str) -> str:
    data = calldata(fn) + bytes.fromhex(s.acc[seat].address[2:])
    tx = {"from": s.forwarder.address, "to": fn.address, "data": data}
    try:
        s.chain.w3.eth.call(tx)  # type: ignore[arg-type]
    except (ContractCustomError, ContractLogicError) as exc:
        return s.chain.revert_from(exc).name
    return "ok"


@pytest.mark.parametrize("call", GATED)
@pytest.mark.parametrize("seat", SEATS, ids=lambda seat: seat.key)
def test_forwarded_calls_carry_the_signers_authorization(
    setting: Setting, ledger: Ledger, call: str, seat: Seat
) -> None:
    fn = gated_call(setting, call)
    direct = outcome_direct(setting, fn, seat.key)
    assert outcome_forwarded(setting, fn, seat.key) == direct
    if seat.key == "outsider":
        assert direct in ("NotMember", "AccessControlUnauthorizedAccount")
    # relay by a member that holds none of the roles involved
    relay = setting.forwarder.functions.execute(setting.sign(seat.key, fn))
    if direct == "ok":
        setting.chain.send(relay, setting.acc["trader2"])
    else:
        with pytest.raises(ChainRevert) as refused:
            setting.chain.simulate(relay, setting.acc["trader2"].address)
        assert refused.value.name == "FailedCall"
