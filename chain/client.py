"""Sending transactions and reading state, with custom errors decoded.

Every state change goes through `Chain.send`: it simulates first (so a revert costs nothing and
comes back as a named custom error), signs locally with eth-account, and waits for the receipt.
Nonces are tracked per sender under a lock so concurrent API requests never collide.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt

from chain.abi import DecodedError, ErrorDecoder


class ChainRevert(Exception):
    """A contract call reverted; `error` is the decoded custom error when known."""

    def __init__(self, error: DecodedError | None, raw: bytes = b"") -> None:
        self.error = error
        self.raw = raw
        name = error.name if error else "UnknownRevert"
        super().__init__(f"{name}({error.args if error else '0x' + raw.hex()})")

    @property
    def name(self) -> str:
        return self.error.name if self.error else "UnknownRevert"


@dataclass(frozen=True)
class Sent:
    """A mined transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: TxReceipt


def _revert_data(exc: Exception) -> bytes:
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes | bytearray | HexBytes):
        return bytes(data)
    return b""


class Chain:
    """A JSON-RPC endpoint plus the error ABI of the project's contracts."""

    def __init__(self, url: str, error_abis: Iterable[list[dict[str, Any]]] = ()) -> None:
        self.url = url
        # web3 asks for the chain id before every contract call; it never changes for an
        # endpoint, so that one answer is cached (nothing else is).
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60},
                                         cache_allowed_requests=True,
                                         cacheable_requests={RPCEndpoint("eth_chainId")}))
        self.errors = ErrorDecoder(error_abis)
        self._chain_id: int | None = None
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def reset_nonces(self) -> None:
        """Forget cached nonces (after a chain snapshot revert or an external sender)."""
        with self._guard:
            self._nonces.clear()

    def rpc(self, method: str, *params: Any) -> Any:
        """Raw JSON-RPC call (e.g. anvil's evm_snapshot / evm_revert)."""
        resp = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp["result"]

    def call_words(self, to: str, selector: bytes, *words: int | str) -> int:
        """A view call whose arguments are static words (uints, addresses) and whose answer
        is one uint, encoded by hand: a tenth of the cost of a web3 contract call, for reads
        on a hot path (the exchange's balance checks). Reverts raise RuntimeError."""
        data = selector + b"".join(
            (int(w, 16) if isinstance(w, str) else w).to_bytes(32, "big") for w in words)
        out = self.rpc("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
        return int(out, 16) if out not in ("0x", "") else 0

    def _lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def revert_from(self, exc: Exception) -> ChainRevert:
        raw = _revert_data(exc)
        return ChainRevert(self.errors.decode(raw), raw)

    def call(self, fn: ContractFunction, block: Any = "latest") -> Any:
        """Read-only call; reverts raise ChainRevert."""
        try:
            return fn.call(block_identifier=block)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.revert_from(exc) from None

    def simulate(self, fn: ContractFunction, sender: str) -> int:
        """Gas estimate for `fn` from `sender`; a revert raises ChainRevert without sending."""
        try:
            return int(fn.estimate_gas({"from": sender}))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.revert_from(exc) from None

    def build(
        self, fn: ContractFunction, account: LocalAccount, gas: int | None = None
    ) -> dict[str, Any]:
        gas_limit = (
            gas if gas is not None else self.simulate(fn, account.address) * 12 // 10 + 10_000
        )
        params: TxParams = {
            "from": account.address,
            "gas": gas_limit,
            "gasPrice": self.w3.eth.gas_price,
            "chainId": self.chain_id,
            "nonce": Nonce(0),
        }
        return dict(fn.build_transaction(params))

    def send(self, fn: ContractFunction, account: LocalAccount, gas: int | None = None) -> Sent:
        """Simulate, sign, send and wait for the receipt; reverts raise ChainRevert."""
        tx_hash = self.send_nowait(fn, account, gas)
        return self.wait(tx_hash, fn, account.address)

    def send_nowait(
        self, fn: ContractFunction, account: LocalAccount, gas: int | None = None
    ) -> str:
        """Simulate, sign and send; returns the transaction hash without waiting."""
        tx = self.build(fn, account, gas)
        return self.send_raw(tx, account)

    def send_raw(self, tx: dict[str, Any], account: LocalAccount) -> str:
        with self._lock(account.address):
            nonce = self._nonces.get(account.address)
            if nonce is None:
                nonce = int(self.w3.eth.get_transaction_count(account.address, "pending"))
            tx["nonce"] = nonce
            signed = account.sign_transaction(tx)
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception:
                self._nonces.pop(account.address, None)  # resync from the node next time
                raise
            self._nonces[account.address] = nonce + 1
        return "0x" + bytes(tx_hash).hex()

    def wait(
        self,
        tx_hash: str,
        fn: ContractFunction | None = None,
        sender: str | None = None,
        timeout: float = 120,
    ) -> Sent:
        receipt = self.w3.eth.wait_for_transaction_receipt(
            HexBytes(tx_hash), timeout=timeout, poll_latency=0.01
        )
        if receipt["status"] != 1:
            if fn is not None and sender is not None:
                try:
                    fn.call({"from": sender}, block_identifier=receipt["blockNumber"] - 1)
                except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                    raise self.revert_from(exc) from None
            raise ChainRevert(None)
        return Sent(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            receipt=receipt,
        )

    def deploy(
        self, abi: list[dict[str, Any]], bytecode: str, account: LocalAccount, *args: Any
    ) -> tuple[str, Sent]:
        """Deploys a contract; returns (address, sent)."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        ctor = factory.constructor(*args)
        try:
            gas = int(ctor.estimate_gas({"from": account.address})) * 12 // 10 + 50_000
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.revert_from(exc) from None
        tx = dict(
            ctor.build_transaction(
                {
                    "from": account.address,
                    "gas": gas,
                    "gasPrice": self.w3.eth.gas_price,
                    "chainId": self.chain_id,
                    "nonce": 0,
                }
            )
        )
        sent = self.wait(self.send_raw(tx, account))
        address = sent.receipt["contractAddress"]
        assert address is not None
        return str(address), sent
