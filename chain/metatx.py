"""ERC-2771 forward requests through TanhuiForwarder.

A member signs an EIP-712 `ForwardRequest` for a call to a Tanhui contract with its own key;
any account relays it with `execute`; the target contract sees the signer as the caller. The
forwarder checks the signature, the signer's current nonce and the deadline, so a request can
run at most once, only as signed, and only in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from chain.abi import abi_type, signature
from chain.client import Chain
from chain.eip712 import EIP712_DOMAIN_FIELDS, Field, MessageType

FORWARDER_NAME = "TanhuiForwarder"
FORWARDER_VERSION = "1"

FORWARD_REQUEST = MessageType("ForwardRequest", (
    Field("from", "address", "sender"),
    Field("to", "address", "to"),
    Field("value", "uint256", "value"),
    Field("gas", "uint256", "gas"),
    Field("nonce", "uint256", "nonce"),
    Field("deadline", "uint48", "deadline"),
    Field("data", "bytes", "data"),
))
FORWARD_REQUEST_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": EIP712_DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST.types}


def calldata(fn: ContractFunction) -> bytes:
    """ABI-encoded call (selector and positional arguments) of a bound contract function."""
    abi: dict[str, Any] = dict(fn.abi)
    types = [abi_type(dict(p)) for p in abi["inputs"]]
    return keccak(text=signature(abi))[:4] + abi_encode(types, list(fn.args))


@dataclass(frozen=True)
class ForwardRequest:
    """What the signer authorizes: call `to` with `data`, at most `gas`, before `deadline`."""

    sender: str
    to: str
    data: bytes
    gas: int
    nonce: int
    deadline: int
    value: int = 0

    def typed_data(self, chain_id: int, forwarder: str) -> dict[str, Any]:
        """The full EIP-712 message the signer signs."""
        domain = {"name": FORWARDER_NAME, "version": FORWARDER_VERSION, "chainId": chain_id,
                  "verifyingContract": to_checksum_address(forwarder)}
        return FORWARD_REQUEST.document(domain, FORWARD_REQUEST.message(self))

    def with_signature(self, sig: bytes) -> tuple[str, str, int, int, int, bytes, bytes]:
        """The `ForwardRequestData` tuple that `execute` takes."""
        return (
            to_checksum_address(self.sender),
            to_checksum_address(self.to),
            self.value,
            self.gas,
            self.deadline,
            self.data,
            sig,
        )


def forwarder_nonce(chain: Chain, forwarder: Contract, account: str) -> int:
    return int(chain.call(forwarder.functions.nonces(to_checksum_address(account))))


def sign_forward_request(request: ForwardRequest, signer: LocalAccount, chain_id: int,
                         forwarder: str) -> bytes:
    """The signer's EIP-712 signature over `request`."""
    signed = signer.sign_typed_data(full_message=request.typed_data(chain_id, forwarder))
    return bytes(signed.signature)


def forward_request(chain: Chain, forwarder: Contract, signer: LocalAccount,
                    fn: ContractFunction, *, gas: int = 500_000, ttl: int = 3_600,
                    deadline: int | None = None,
                    nonce: int | None = None) -> tuple[str, str, int, int, int, bytes, bytes]:
    """A signed request for `fn` by `signer`, ready for `forwarder.functions.execute(...)`.

    The nonce defaults to the signer's current forwarder nonce and the deadline to `ttl`
    seconds after the latest block.
    """
    if deadline is None:
        deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + ttl
    request = ForwardRequest(
        sender=signer.address,
        to=str(fn.address),
        data=calldata(fn),
        gas=gas,
        nonce=forwarder_nonce(chain, forwarder, signer.address) if nonce is None else nonce,
        deadline=deadline,
    )
    sig = sign_forward_request(request, signer, chain.chain_id, str(forwarder.address))
    return request.with_signature(sig)
