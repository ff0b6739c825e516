"""Sending members' calls through the ERC-2771 forwarder.

Every write the API makes is a `ForwardRequest` signed by the member's key, relayed by one
relayer account that pays the gas. For custodial accounts the API signs with the member's
decrypted key; own-key members sign the request themselves and POST it to /v1/relay. Either way
the contracts see the member as the caller, and members never need gas of their own.

The forwarder's `execute` reverts with a bare `FailedCall` when the inner call fails, which
hides the reason. So the inner call is simulated first exactly as the forwarder will make it
(from the forwarder, with the signer appended to the calldata): a refusal comes back as the
contract's own decoded custom error, and nothing is sent.
"""

from __future__ import annotations

import threading
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3RPCError,
)

from api.errors import ApiError
from chain.abi import signature
from chain.client import ChainRevert, Sent
from chain.deploy import CONTRACTS
from chain.metatx import ForwardRequest, calldata, sign_forward_request
from core.config import Settings
from registry.ledger import Ledger

# Seconds a request the API signs for a custodial member stays valid.
CUSTODIAL_TTL = 600
# The inner call gets its estimate (which includes the 21,000 a transaction pays and the inner
# call does not) plus this share, so state changes between estimate and mining do not starve it.
GAS_MARGIN_DIVISOR = 5


def relayer_account(settings: Settings) -> LocalAccount | None:
    """The configured relayer key, else the deployer key; None if neither is set (the process
    wiring then supplies one, e.g. governance's development key on the embedded chain)."""
    key = settings.relayer_key or settings.deployer_key
    if key:
        account: LocalAccount = Account.from_key(key)
        return account
    return None


class Relayer:
    """Signs (for custodial members) and relays forward requests; decodes inner reverts."""

    def __init__(self, ledger: Ledger, account: LocalAccount | None) -> None:
        self.ledger = ledger
        self.chain = ledger.chain
        self.account = account
        self.forwarder = ledger.c("TanhuiForwarder")
        self.targets: dict[str, str] = {
            str(to_checksum_address(ledger.deployment.address(n))): n
            for n in CONTRACTS
            if n != "TanhuiForwarder"
        }
        # Only state-changing functions may be relayed: a relayed view call would spend the
        # relayer's gas for nothing.
        self.writes: dict[str, set[bytes]] = {
            address: {
                keccak(text=signature(item))[:4]
                for item in ledger.deployment.abis[name]
                if item.get("type") == "function"
                and item.get("stateMutability") in ("nonpayable", "payable")
            }
            for address, name in self.targets.items()
        }
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def _require_account(self) -> LocalAccount:
        if self.account is None:
            raise ApiError(
                503, "relayer_unavailable", "no relayer account is configured (TANHUI_RELAYER_KEY)"
            )
        return self.account

    # -- simulation -----------------------------------------------------------------------

    def simulate_inner(self, sender: str, to: str, data: bytes, block: Any = "latest") -> int:
        """Gas the forwarded call needs; raises the target's decoded ChainRevert if it would
        revert."""
        tx: Any = {
            "from": self.forwarder.address,
            "to": to_checksum_address(to),
            "data": "0x" + (data + bytes.fromhex(sender[2:])).hex(),
        }
        try:
            return int(self.chain.w3.eth.estimate_gas(tx, block))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.chain.revert_from(exc) from None
        except Web3RPCError as exc:  # e.g. the call needs more gas than a block holds
            raise ApiError(409, "chain_call_failed", "the node could not execute the call",
                           {"rpc_error": str(exc)}) from None

    def nonce(self, address: str) -> int:
        return int(self.chain.call(self.forwarder.functions.nonces(to_checksum_address(address))))

    def verify(self, request: tuple[Any, ...]) -> bool:
        return bool(self.chain.call(self.forwarder.functions.verify(request)))

    # -- sending --------------------------------------------------------------------------

    def send(self, fn: ContractFunction, account: LocalAccount) -> Sent:
        """As a Ledger's sender (`Ledger.via`): `fn` signed by `account`, relayed."""
        return self.submit(account, fn)

    def submit(self, signer: LocalAccount, fn: ContractFunction) -> Sent:
        """Signs `fn` as `signer`'s forward request and relays it; one at a time per signer,
        because each request is bound to the signer's current forwarder nonce."""
        relayer = self._require_account()
        data = calldata(fn)
        to = str(fn.address)
        with self._lock(signer.address):
            needed = self.simulate_inner(signer.address, to, data)
            now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
            request = ForwardRequest(
                sender=signer.address,
                to=to,
                data=data,
                gas=needed + needed // GAS_MARGIN_DIVISOR,
                nonce=self.nonce(signer.address),
                deadline=now + CUSTODIAL_TTL,
            )
            sig = sign_forward_request(
                request, signer, self.chain.chain_id, str(self.forwarder.address)
            )
            return self._execute(relayer, request.with_signature(sig), signer.address, to, data,
                                 f"relay {fn.fn_name}")

    def relay(self, request: tuple[Any, ...]) -> Sent:
        """Relays a request the member signed itself (already checked by the caller)."""
        relayer = self._require_account()
        sender, to, data = str(request[0]), str(request[1]), bytes(request[5])
        with self._lock(to_checksum_address(sender)):
            return self._execute(relayer, request, sender, to, data, f"relay 0x{data[:4].hex()}")

    def _execute(
        self, relayer: LocalAccount, request: tuple[Any, ...], sender: str, to: str, data: bytes,
        purpose: str,
    ) -> Sent:
        try:
            return self.chain.send(self.forwarder.functions.execute(request), relayer,
                                   purpose=purpose)
        except ChainRevert as exc:
            if exc.name != "FailedCall":
                raise
            # The inner call failed: say why, from the target contract itself.
            self.simulate_inner(sender, to, data)
            raise ApiError(
                422,
                "gas_too_low",
                "the request's gas is not enough for the call it makes",
                {"gas": int(request[3])},
            ) from None
