"""Sending transactions and reading state, with custom errors decoded.

Every state change goes through `Chain.send`: it simulates first (so a revert costs nothing and
comes back as a named custom error), signs locally with eth-account, and waits for the receipt.
Nonces are tracked per sender under a lock so concurrent API requests never collide.

`send_raw` is the one place this stack broadcasts from. With an outbox (chain/outbox.py) it
appends the signed bytes there, fsync'd, before broadcasting, so a transaction the node loses
(an embedded anvil killed before its next state dump, a pool that dropped it) is sent again by
the reconciler (chain/reconcile.py) instead of vanishing. A caller that must know the hash
before anything is broadcast (a pending Idempotency-Key) registers `on_signed`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt

from chain.abi import DecodedError, ErrorDecoder

if TYPE_CHECKING:
    from chain.outbox import Outbox

# What nodes answer when they already hold the very same signed bytes (anvil, geth, Besu).
_ALREADY_KNOWN = ("already known", "already imported", "known transaction")
NONCE_RETRIES = 3  # re-signings after a "nonce too low" refusal, before giving up


def _nonce_too_low(exc: Exception) -> bool:
    return "nonce too low" in str(exc).lower()

_on_signed: ContextVar[Callable[[str], None] | None] = ContextVar("tanhui_on_signed",
                                                                  default=None)


@contextmanager
def on_signed(callback: Callable[[str], None]) -> Iterator[None]:
    """While active (in this thread or task), `Chain.send_raw` calls `callback(tx_hash)` once
    the transaction is signed and before it is appended to the outbox or broadcast; if the
    callback raises, nothing is sent. The API records the hash on a pending Idempotency-Key
    this way, so an unknown outcome can later be looked up on chain (api/idempotency.py)."""
    token = _on_signed.set(callback)
    try:
        yield
    finally:
        _on_signed.reset(token)


@dataclass(frozen=True)
class Finality:
    """When a mined transaction can no longer be lost.

    `confirmations`: blocks on top of it. 0 suits a chain with finality (Besu QBFT: a block,
    once made, is final). `durable_file`: the embedded anvil's durable state file
    (chain/state.py). Anvil keeps blocks in memory; the file is replaced, whole, by a dump every
    second, and its mtime is when that dump was asked for, so a receipt seen before the mtime is
    in it. A receipt is durable only once the mtime is later than when it was seen; `margin`
    covers the one dump whose mtime is when it ended rather than began (anvil's exit dump, taken
    over as the durable file at the next start)."""

    confirmations: int = 0
    durable_file: Path | None = None
    margin: float = 1.0

    def is_final(self, block_number: int, head: int, seen_at: float) -> bool:
        if head < block_number + self.confirmations:
            return False
        if self.durable_file is None:
            return True
        try:
            written = self.durable_file.stat().st_mtime
        except FileNotFoundError:
            return False
        return written > seen_at + self.margin


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


def _hex_bytes(value: Any) -> bytes | None:
    """Bytes of a hex string as nodes spell it ("0x..", or bare hex in some struct logs)."""
    if isinstance(value, bytes | bytearray | HexBytes):
        return bytes(value)
    if not isinstance(value, str):
        return None
    text = value[2:] if value.startswith("0x") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


class Sender(Protocol):
    """Who puts a signed call on chain for `account`: the chain itself (the account signs and
    pays gas; `Chain`), or a relayer that forwards the account's signed request (ERC-2771)."""

    def send(self, fn: ContractFunction, account: LocalAccount) -> Sent: ...


class Chain:
    """A JSON-RPC endpoint plus the error ABI of the project's contracts (and, in the product,
    the data directory's outbox and the chain's finality rule)."""

    def __init__(self, url: str, error_abis: Iterable[list[dict[str, Any]]] = (),
                 outbox: Outbox | None = None, finality: Finality | None = None) -> None:
        self.url = url
        self.outbox = outbox
        self.finality = finality or Finality()
        # web3 asks for the chain id before every contract call; it never changes for an
        # endpoint, so that one answer is cached (nothing else is).
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60},
                                         cache_allowed_requests=True,
                                         cacheable_requests={RPCEndpoint("eth_chainId")}))
        self.errors = ErrorDecoder(error_abis)
        self._chain_id: int | None = None
        self._chain_key: str | None = None
        self._head: tuple[int, bytes] | None = None
        self._seen: dict[str, tuple[int, float]] = {}
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def chain_key(self) -> str:
        """"<chain id>:<genesis hash>": which chain an outbox entry belongs to (a node started
        afresh with the same chain id has another genesis)."""
        if self._chain_key is None:
            genesis = bytes(self.w3.eth.get_block(0)["hash"])
            self._chain_key = f"{self.chain_id}:0x{genesis.hex()}"
        return self._chain_key

    def reset_nonces(self) -> None:
        """Forget cached nonces (after a chain snapshot revert, lost blocks or an external
        sender); each sender's lock is taken, so a send in progress finishes first."""
        with self._guard:
            senders = list(self._locks)
        for address in senders:
            with self._lock(address):
                self._nonces.pop(address, None)
        with self._guard:
            self._nonces.clear()

    def first_seen(self, tx_hash: str, block_number: int) -> float:
        """When this process first saw `tx_hash` mined in `block_number`: the durability clock
        of a transaction the outbox does not hold (Finality.is_final)."""
        with self._guard:
            known = self._seen.get(tx_hash)
            if known is None or known[0] != block_number:
                known = self._seen[tx_hash] = (block_number, time.time())
            return known[1]

    def _saw_block(self, number: int, block_hash: bytes) -> None:
        """A block this process relied on (a receipt's): `check_head` notices if it goes."""
        with self._guard:
            if self._head is None or number > self._head[0]:
                self._head = (number, block_hash)

    def check_head(self, reset: bool = True) -> bool:
        """Whether the chain went backwards since the last look: its head is lower than the
        block last seen, or that block was replaced (the node restarted from an older state
        dump, or reorganized). Then the nonces cached here are too high (`reset` forgets
        them) and the genesis is read again (the node may be a new chain)."""
        latest = self.w3.eth.get_block("latest")
        number, block_hash = int(latest["number"]), bytes(latest["hash"])
        seen, rewound = self._head, False
        if seen is not None:
            if number < seen[0]:
                rewound = True
            elif number == seen[0]:
                rewound = block_hash != seen[1]
            else:
                try:
                    rewound = bytes(self.w3.eth.get_block(seen[0])["hash"]) != seen[1]
                except BlockNotFound:
                    rewound = True
        self._head = (number, block_hash)
        if rewound:
            self._chain_key = None
            if reset:
                self.reset_nonces()
        return rewound

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

    def send(self, fn: ContractFunction, account: LocalAccount, gas: int | None = None,
             purpose: str = "") -> Sent:
        """Simulate, sign, send and wait for the receipt; reverts raise ChainRevert."""
        return self.wait(self.send_nowait(fn, account, gas, purpose))

    def send_nowait(self, fn: ContractFunction, account: LocalAccount, gas: int | None = None,
                    purpose: str = "") -> str:
        """Simulate, sign and send; returns the transaction hash without waiting. `purpose`
        tags the outbox entry (default: the function's name)."""
        tx = self.build(fn, account, gas)
        return self.send_raw(tx, account, purpose or fn.fn_name)

    def send_raw(self, tx: dict[str, Any], account: LocalAccount, purpose: str = "") -> str:
        """Signs `tx` at the sender's next nonce and broadcasts it: after `on_signed` and after
        the outbox append (fsync'd), so a crash at any point leaves nothing sent that the
        outbox does not hold."""
        with self._lock(account.address):
            for attempt in range(NONCE_RETRIES + 1):
                try:
                    return self._sign_and_send(tx, account, purpose)
                except Web3RPCError as exc:
                    # another process signs with this key too (a relayer shared by the API
                    # and the exchange): the node refused the nonce, nothing was sent, so the
                    # transaction is signed again at the node's next nonce
                    if attempt == NONCE_RETRIES or not _nonce_too_low(exc):
                        raise
        raise AssertionError("unreachable")

    def _sign_and_send(self, tx: dict[str, Any], account: LocalAccount, purpose: str) -> str:
        """One signing at the sender's next nonce and its broadcast (under the sender's lock)."""
        nonce = self._nonces.get(account.address)
        if nonce is None:
            nonce = int(self.w3.eth.get_transaction_count(account.address, "pending"))
        tx["nonce"] = nonce
        signed = account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        hook = _on_signed.get()
        if hook is not None:
            hook(tx_hash)
        if self.outbox is not None:
            self.outbox.append(self.chain_key, tx_hash, account.address, nonce,
                               purpose or "transaction", bytes(signed.raw_transaction))
        try:
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            if not self._accepted_anyway(exc, tx_hash):
                self._nonces.pop(account.address, None)  # resync from the node next time
                if self.outbox is not None:
                    self.outbox.update([(tx_hash, {"state": "rejected",
                                                   "detail": str(exc)[:500]})])
                raise
        except Exception:
            # no answer: the node may hold it or not; the reconciler finds out
            self._nonces.pop(account.address, None)
            raise
        self._nonces[account.address] = nonce + 1
        return tx_hash

    def _accepted_anyway(self, exc: Web3RPCError, tx_hash: str) -> bool:
        """A refusal that means the node has the transaction: it held these bytes already, or
        a reconciler re-sent them first and they are mined."""
        if any(m in str(exc).lower() for m in _ALREADY_KNOWN):
            return True
        return self.receipt(tx_hash) is not None

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def wait(self, tx_hash: str, timeout: float = 120) -> Sent:
        """The receipt of `tx_hash`; a revert raises ChainRevert decoded at the transaction's
        own position (`revert_of`)."""
        receipt = self.w3.eth.wait_for_transaction_receipt(
            HexBytes(tx_hash), timeout=timeout, poll_latency=0.01
        )
        self._saw_block(int(receipt["blockNumber"]), bytes(receipt["blockHash"]))
        if receipt["status"] != 1:
            raise self.revert_of(tx_hash, receipt)
        return Sent(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            receipt=receipt,
        )

    def revert_of(self, tx_hash: str, receipt: TxReceipt) -> ChainRevert:
        """Why a mined transaction reverted. A transaction runs against its block's parent
        state plus every transaction before it in the same block, so re-running its call at
        `blockNumber - 1` is right only for the first transaction of a block (and even then
        under the parent's timestamp). In order:
        1. the receipt's `revertReason` (Besu with `--revert-reason-enabled`);
        2. `debug_traceTransaction`, which re-executes the transaction at its own position
           (anvil; Besu with the DEBUG API enabled; geth): the top call's output;
        3. for the first transaction of its block, the same call at the parent block;
        else the revert is reported without a reason (`UnknownRevert`)."""
        raw = _hex_bytes(dict(receipt).get("revertReason"))
        if raw is None:
            raw = self._traced_revert(tx_hash)
        if raw is None and int(receipt["transactionIndex"]) == 0:
            raw = self._replayed_revert(tx_hash, int(receipt["blockNumber"]))
        if raw is None:
            return ChainRevert(None)
        return ChainRevert(self.errors.decode(raw), raw)

    def _traced_revert(self, tx_hash: str) -> bytes | None:
        try:
            top = self.rpc("debug_traceTransaction", tx_hash,
                           {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}})
            if isinstance(top, dict) and ("output" in top or "error" in top):
                return _hex_bytes(top.get("output")) or b""
        except (RuntimeError, ValueError):
            pass
        try:  # the default (struct log) tracer, with everything per step turned off
            trace = self.rpc("debug_traceTransaction", tx_hash,
                             {"disableStorage": True, "disableMemory": True,
                              "disableStack": True})
            if isinstance(trace, dict) and trace.get("failed"):
                return _hex_bytes(trace.get("returnValue")) or b""
        except (RuntimeError, ValueError):
            pass
        return None

    def _replayed_revert(self, tx_hash: str, block_number: int) -> bytes | None:
        tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
        call: Any = {"from": tx["from"], "to": tx.get("to"), "data": tx["input"],
                     "value": tx["value"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, block_number - 1)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            return _revert_data(exc)
        return None

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
        sent = self.wait(self.send_raw(tx, account, "deploy"))
        address = sent.receipt["contractAddress"]
        assert address is not None
        return str(address), sent
