"""Members with their own keys act through /v1/relay: they sign an EIP-712 ForwardRequest with
nothing but eth-account, the registry relays it and pays the gas, and the chain records the
member as the actor. Requests that are forged, expired, aimed elsewhere or doomed are refused
before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from api.custody import provision_api_account
from chain.client import Chain
from chain.deploy import Deployment
from core.db import session_factory
from devkit.scenario import Batch, Scenario
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api

RETIRE = keccak(text="retire(uint256,uint256,string,uint8,string)")[:4]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-relay")), acc)


@dataclass
class Member:
    """A member that keeps its own key; the registry knows only its address and API key."""

    account: LocalAccount
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Ctx:
    api: Api
    batch: Batch
    member: Member


@dataclass(frozen=True)
class Prepared:
    batch: Batch
    member: Member


@pytest.fixture(scope="module")
def prepared(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount],
             db: ApiDatabase) -> Iterator[Prepared]:
    """A batch, and an own-key member (admitted, with an API key but no custodial key) holding
    400 t of it; each test then runs in its own snapshot (the `ledger` fixture)."""
    snap = chain.rpc("evm_snapshot")
    try:
        ledger = Ledger(chain, deployment)
        batch = Scenario(ledger, acc).batch(quantity=1_000 * TONNE)
        own: LocalAccount = Account.create()
        with session_factory(db.engine)() as session:
            made = provision_api_account(session, db.settings, "福清市某养殖合作社",
                                         address=own.address)
            session.commit()
        assert made.custodial is False
        ledger.admit(acc["operator"], own.address, "福清市某养殖合作社 Fuqing aquaculture co-op")
        ledger.transfer(acc["developer"], own.address, batch.batch_id, 400 * TONNE)
        yield Prepared(batch, Member(own, made.api_key))
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


@pytest.fixture
def ctx(db: ApiDatabase, prepared: Prepared, ledger: Ledger,
        acc: dict[str, LocalAccount]) -> Iterator[Ctx]:
    with open_api(db, ledger, acc).http as http:
        yield Ctx(Api(http, db, ledger, acc), prepared.batch, prepared.member)


def retire_call(batch_id: int, amount: int, beneficiary: str = "福清市人民检察院",
                purpose: int = 2, case: str = "(2025)闽0181民初123号") -> bytes:
    return RETIRE + encode(["uint256", "uint256", "string", "uint8", "string"],
                           [batch_id, amount, beneficiary, purpose, case])


def signed_request(ctx: Ctx, data: bytes, *, signer: LocalAccount | None = None,
                   sender: str | None = None, to: str | None = None, gas: int = 300_000,
                   deadline: int | None = None, nonce: int | None = None) -> dict[str, Any]:
    """What an own-key client does, with only the API's published domain and eth-account."""
    http, member = ctx.api.http, ctx.member
    info = http.get("/v1/relay/domain").json()
    sender = sender or member.account.address
    if nonce is None:
        nonce = http.get(f"/v1/relay/nonce/{sender}").json()["nonce"]
    if deadline is None:
        deadline = int(ctx.api.ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 600
    message = {"from": sender, "to": to or info["targets"]["CarbonCredits"], "value": 0,
               "gas": gas, "nonce": nonce, "deadline": deadline, "data": data}
    signed = (signer or member.account).sign_typed_data(full_message={
        "types": info["types"], "primaryType": info["primaryType"], "domain": info["domain"],
        "message": message,
    })
    body = {k: v for k, v in message.items() if k != "nonce"}
    return {**body, "data": "0x" + data.hex(), "signature": "0x" + bytes(signed.signature).hex()}


def relay(ctx: Ctx, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return ctx.api.http.post("/v1/relay", json=body, headers=headers or ctx.member.headers)


def test_an_own_key_member_retires_through_the_relay(ctx: Ctx) -> None:
    ledger, member = ctx.api.ledger, ctx.member.account
    bid = ctx.batch.batch_id
    assert ledger.chain.w3.eth.get_balance(member.address) == 0  # no gas of its own

    r = relay(ctx, signed_request(ctx, retire_call(bid, 326_400_000)))

    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["signer"], out["nonce"], out["target"]) == (member.address, 0, "CarbonCredits")
    retired = next(e for e in out["events"] if e["name"] == "Retired")["args"]
    assert (retired["holder"], retired["amount"], retired["serialStart"]) == (
        member.address, 326_400_000, 1)
    assert ledger.retirement(retired["retirementId"]).retirement.holder == member.address
    assert ledger.balance(member.address, bid) == 400 * TONNE - 326_400_000
    receipt = ledger.chain.w3.eth.get_transaction_receipt(out["tx_hash"])
    assert receipt["from"] != member.address  # the relayer sent it and paid
    verified = ctx.api.get(f"/v1/retirements/{retired['retirementId']}/verify")
    assert verified["valid"] and verified["retirement"]["holder"] == member.address
    assert ctx.api.http.get(f"/v1/relay/nonce/{member.address}").json()["nonce"] == 1


def test_the_domain_is_the_forwarders(ctx: Ctx) -> None:
    info = ctx.api.get("/v1/relay/domain")
    deployment = ctx.api.ledger.deployment
    assert info["domain"] == {"name": "TanhuiForwarder", "version": "1", "chainId": 31337,
                              "verifyingContract": deployment.address("TanhuiForwarder")}
    assert "TanhuiForwarder" not in info["targets"]
    assert info["targets"]["Consortium"] == deployment.address("Consortium")


def test_an_own_key_member_cannot_use_custodial_routes(ctx: Ctx) -> None:
    r = ctx.api.http.post("/v1/retirements", headers=ctx.member.headers, json={
        "batch_id": ctx.batch.batch_id, "amount": "1", "beneficiary": "x",
        "purpose": "voluntary"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_custodial")


def refused(ctx: Ctx, body: dict[str, Any], status: int, code: str,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    ledger = ctx.api.ledger
    block = ledger.chain.w3.eth.block_number
    held = ledger.balance(ctx.member.account.address, ctx.batch.batch_id)
    r = relay(ctx, body, headers)
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code
    assert ledger.chain.w3.eth.block_number == block  # nothing sent
    assert ledger.balance(ctx.member.account.address, ctx.batch.batch_id) == held
    return error


def test_a_forged_signature_is_refused(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE), signer=Account.create())
    error = refused(ctx, body, 422, "invalid_signature")
    assert error["details"]["recovered"] != ctx.member.account.address


def test_a_request_altered_after_signing_is_refused(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE))
    body["data"] = "0x" + retire_call(ctx.batch.batch_id, 300 * TONNE).hex()
    refused(ctx, body, 422, "invalid_signature")


def test_a_stale_nonce_is_refused(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE), nonce=5)
    refused(ctx, body, 422, "invalid_signature")


def test_an_expired_request_is_refused(ctx: Ctx) -> None:
    now = int(ctx.api.ledger.chain.w3.eth.get_block("latest")["timestamp"])
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE), deadline=now - 1)
    refused(ctx, body, 422, "request_expired")


def test_only_registry_contracts_are_targets(ctx: Ctx) -> None:
    forwarder = ctx.api.ledger.deployment.address("TanhuiForwarder")
    body = signed_request(ctx, b"", to=forwarder)
    refused(ctx, body, 422, "untrusted_target")


def test_only_state_changing_functions_are_relayed(ctx: Ctx) -> None:
    balance_of = keccak(text="balanceOf(address,uint256)")[:4] + encode(
        ["address", "uint256"], [ctx.member.account.address, ctx.batch.batch_id])
    refused(ctx, signed_request(ctx, balance_of), 422, "function_not_allowed")
    refused(ctx, signed_request(ctx, b"\x01\x02"), 422, "function_not_allowed")


def test_a_request_must_be_the_callers_own(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE))
    refused(ctx, body, 403, "signer_mismatch", headers=ctx.api.headers("trader2"))


def test_a_doomed_call_returns_the_contracts_refusal(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, 500 * TONNE))
    error = refused(ctx, body, 409, "chain_erc1155_insufficient_balance")
    assert error["details"]["args"]["sender"] == ctx.member.account.address
    assert error["details"]["args"]["needed"] == 500 * TONNE


def test_a_call_beyond_the_signers_role_is_forbidden(ctx: Ctx) -> None:
    freeze = keccak(text="freezeBatch(uint256,bytes32)")[:4] + encode(
        ["uint256", "bytes32"], [ctx.batch.batch_id, b"\x01" * 32])
    error = refused(ctx, signed_request(ctx, freeze), 403, "forbidden_role")
    assert error["details"]["args"]["role_name"] == "REGULATOR"


def test_too_little_gas_is_refused(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE), gas=30_000)
    refused(ctx, body, 422, "gas_too_low")


def test_relay_needs_an_api_key(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE))
    r = ctx.api.http.post("/v1/relay", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthenticated")


def test_a_malformed_signature_is_refused(ctx: Ctx) -> None:
    body = signed_request(ctx, retire_call(ctx.batch.batch_id, TONNE))
    body["signature"] = "0x" + "00" * 65
    refused(ctx, body, 422, "invalid_signature")
    body["signature"] = "0x1234"
    refused(ctx, body, 422, "invalid_signature")
