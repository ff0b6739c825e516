"""Relaying requests signed by members' own keys (ERC-2771).

A member that keeps its own key signs an EIP-712 `ForwardRequest` (domain and types from
GET /v1/relay/domain, nonce from GET /v1/relay/nonce/{address}) and posts it here with its API
key; the registry's relayer sends it and pays the gas, and the contracts see the member as the
caller. The API checks the request before relaying: its signer is the caller, its target is a
registry contract, it is unexpired, its signature verifies on the forwarder, and the call it
makes would succeed (otherwise the contract's refusal is returned and nothing is sent).
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api import reserved
from api.auth import CallerDep
from api.deps import RelayerDep, ViewDep
from api.errors import ApiError
from api.fields import STRICT, Address, HexBytes, checksum_path_address
from chain.metatx import FORWARD_REQUEST_TYPES, ForwardRequest

router = APIRouter(prefix="/v1/relay", tags=["relay (own keys)"])

MAX_RELAY_GAS = 10_000_000
MIN_RELAY_GAS = 21_000
MAX_CALLDATA_BYTES = 32_768


class RelayIn(BaseModel):
    """OpenZeppelin's `ForwardRequestData`: the signed request without its nonce (the
    forwarder uses the signer's current nonce, which the signature covers)."""

    model_config = STRICT

    from_: Address = Field(alias="from")
    to: Address
    value: Annotated[int, Field(ge=0, le=2**256 - 1)] = 0
    gas: Annotated[int, Field(ge=MIN_RELAY_GAS, le=MAX_RELAY_GAS)]
    deadline: Annotated[int, Field(ge=0, le=2**48 - 1, description="unix seconds (uint48)")]
    data: Annotated[HexBytes, Field(max_length=2 + 2 * MAX_CALLDATA_BYTES)]
    signature: Annotated[HexBytes, Field(max_length=2 + 2 * 65)]


class EventOut(BaseModel):
    name: str
    contract: str
    args: dict[str, Any]


class RelayOut(BaseModel):
    tx_hash: str
    block_number: int
    signer: str
    nonce: int
    target: str
    events: list[EventOut]


@router.get("/domain")
def domain(view: ViewDep, relayer: RelayerDep) -> dict[str, Any]:
    """The EIP-712 domain of the forwarder (read from the chain), the ForwardRequest types,
    the contracts a request may target, and the relayer's address."""
    raw = view.chain.call(relayer.forwarder.functions.eip712Domain())
    _, name, version, chain_id, verifying, _, _ = raw
    return {
        "domain": {"name": name, "version": version, "chainId": int(chain_id),
                   "verifyingContract": verifying},
        "types": FORWARD_REQUEST_TYPES,
        "primaryType": "ForwardRequest",
        "targets": {name: address for address, name in relayer.targets.items()},
        "relayer": relayer.account.address if relayer.account else None,
    }


@router.get("/nonce/{address}")
def nonce(address: Annotated[str, Path()], relayer: RelayerDep) -> dict[str, Any]:
    """The forwarder nonce the next request signed by `address` must carry."""
    account = checksum_path_address(address)
    return {"address": account, "nonce": relayer.nonce(account)}


def _invalid_signature(message: str, details: dict[str, Any]) -> ApiError:
    return ApiError(422, "invalid_signature", message, details)


@router.post("", response_model=RelayOut)
def relay(body: RelayIn, http: Request, caller: CallerDep, view: ViewDep,
          relayer: RelayerDep) -> dict[str, Any]:
    """Relays a ForwardRequest signed by the caller's own key. A transfer, retirement or
    withdrawal may not take what the exchange has reserved (409 reserved_by_exchange)."""
    sender = body.from_
    if sender != caller.address:
        raise ApiError(403, "signer_mismatch", "the request must be signed by the caller's account",
                       {"from": sender, "caller": caller.address})
    target = relayer.targets.get(body.to)
    if target is None:
        raise ApiError(422, "untrusted_target", "requests may only call the registry contracts",
                       {"to": body.to, "targets": sorted(relayer.targets)})
    data = bytes.fromhex(body.data[2:])
    if data[:4] not in relayer.writes[body.to]:
        raise ApiError(422, "function_not_allowed",
                       f"the call data does not name a state-changing function of {target}",
                       {"to": body.to, "selector": "0x" + data[:4].hex()})
    if body.value != 0:
        raise ApiError(422, "value_not_allowed", "requests may not carry value",
                       {"value": body.value})
    now = view.latest_timestamp()
    if body.deadline <= now:
        raise ApiError(422, "request_expired", "the request's deadline has passed",
                       {"deadline": body.deadline, "chain_time": now})
    sig = bytes.fromhex(body.signature[2:])
    current = relayer.nonce(sender)
    details = {"from": sender, "nonce": current}
    if len(sig) != 65:
        raise _invalid_signature("a signature is 65 bytes", details)
    request = ForwardRequest(sender=sender, to=body.to, data=data, gas=body.gas, nonce=current,
                             deadline=body.deadline, value=body.value)
    forwarder = str(relayer.forwarder.address)
    try:
        typed = request.typed_data(view.chain.chain_id, forwarder)
        signable = encode_typed_data(full_message=typed)
        signer = Account.recover_message(signable, signature=sig)
    except Exception:  # malformed signature bytes (bad v, s out of range)
        raise _invalid_signature("the signature is malformed", details) from None
    if signer != sender:
        raise _invalid_signature(
            "the signature is not `from`'s signature of this request at its current nonce",
            {**details, "recovered": signer},
        )
    signed = request.with_signature(sig)
    if not relayer.verify(signed):
        raise _invalid_signature("the forwarder does not accept this request", details)
    relayer.simulate_inner(sender, body.to, data)  # the contract's own refusal, if any
    flows = reserved.outflows(view, sender, body.to, data)
    reserved.require_free_outflows(http, view, flows)
    sent = relayer.relay(signed)
    for account, _ in flows:
        reserved.moved(http, account)
    events = []
    for log in sent.receipt["logs"]:
        ev = view.events.decode(dict(log))
        if ev is not None:
            events.append({"name": ev.name, "contract": ev.address,
                           "args": {k: _jsonable(v) for k, v in ev.args.items()}})
    return {"tx_hash": sent.tx_hash, "block_number": sent.block_number, "signer": sender,
            "nonce": current, "target": target, "events": events}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)  # beyond what JSON numbers carry exactly in most clients
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
