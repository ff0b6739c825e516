"""The embedded chain's state on disk: never torn, and the newest complete dump loads at start.

anvil writes its own state file in place (open with O_TRUNC, write, no fsync, no rename), so a
kill -9 or a power cut during a dump leaves a torn file, which anvil then refuses to load: the
whole chain, deployment included, would be gone, and the outbox cannot rebuild it. So anvil is
never asked to dump periodically, and two files hold the state:

- the **durable file** `<state file>.gz`: what `anvil_dumpState` returns (the same JSON anvil
  writes, gzip'd), written by the process that owns the node every `interval` seconds, and only
  as a whole: a temporary file, fsync, rename over the old one, fsync of the directory. It is
  never written in place, so it is always a complete dump. Its mtime is set to the moment the
  dump was asked for: every block mined before that moment is in it, which is what
  `chain.client.Finality` reads. When the head has not moved since the last dump, the file is
  not rewritten, only its mtime is moved on (it still holds every block mined so far; a change
  made without a block, by a development RPC such as anvil_setBalance, reaches it with the next
  block or anvil's exit dump). anvil takes a dump in two reads, its blocks and transactions
  first, then its accounts, and mines in between: a dump can hold the accounts after a block it
  does not hold, so a start from it would have the block's transactions applied (their senders'
  nonces used) without their receipts, and the outbox could neither find them nor send them
  again. Such a dump is never written: when blocks were mined while it was taken, the first
  transaction after its last block must not be counted in its sender's nonce, else the dump is
  taken again (`holds_its_blocks`).
- the **working file** `<state file>`: anvil's own (`--state`): it loads it at start and dumps
  to it on exit (SIGINT, which it also gets when its parent dies). Before anvil starts it is made
  the newest complete dump: anvil's exit dump when it parses whole and is newer than the durable
  file (saved as the durable file first, so anvil's next in-place write cannot lose it), else the
  durable file's content. A torn exit dump costs at most the last `interval` of blocks, which the
  outbox sends again (chain/reconcile.py).

Each start of anvil on a state file also makes a new genesis block (with the time of that start)
and keeps it beside the loaded blocks; the next dump holds both, and which one anvil then takes
as block 0 is arbitrary, so the genesis hash, by which the outbox tells chains apart, could
change from one restart to the next. The dump anvil loads is therefore first reduced to the
canonical blocks (each the parent of the one above it), and the genesis anvil then serves is
checked against it.

The cost is one full dump per `interval` while blocks are being made (parsed as well when blocks
were mined while it was taken) and a head query otherwise (bench/state_dump.py).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import rlp
from eth_utils import keccak, to_checksum_address

log = logging.getLogger(__name__)

DUMP_ATTEMPTS = 5  # dumps taken in one save, while each one misses a block its accounts hold


class IncompleteDump(ValueError):
    """A state file that is not one whole dump (torn by a kill or a power cut)."""


def durable_state_file(state_file: Path) -> Path:
    """The durable file kept beside anvil's working state file."""
    return state_file.with_name(state_file.name + ".gz")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    """Replaces `path` by a file holding `data` (mode 0600): a reader, or a start after a crash
    at any point, finds either the old file or the new one, both whole."""
    tmp = _temporary(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        os.fsync(fd)  # the data and the mtime
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_dump(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The complete dump in `path` (gzip'd when its name ends in .gz), as JSON and parsed;
    raises IncompleteDump when it is torn. A dump is one JSON object: any prefix of it fails
    to parse."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise IncompleteDump(f"{path}: {exc}") from None
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise IncompleteDump(f"{path}: {exc}") from None
    if not isinstance(state, dict) or "accounts" not in state:
        raise IncompleteDump(f"{path}: not an anvil state dump")
    return raw, state


_HEADER_INTEGERS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
                    "blobGasUsed", "excessBlobGas"}


def block_hash(header: dict[str, str]) -> str:
    """The hash of a block header as anvil serialises it (its fields in RLP order)."""
    items = [int(v, 16) if k in _HEADER_INTEGERS else bytes.fromhex(v[2:])
             for k, v in header.items()]
    return "0x" + keccak(rlp.encode(items)).hex()


def canonical_blocks(state: dict[str, Any]) -> tuple[bool, str | None]:
    """Drops the blocks that are not on the chain (the genesis blocks earlier starts made) from
    a dump, in place: at each height with several, the one the block above names as its
    parent (the earliest, where nothing names one). Returns whether any was dropped, and the
    genesis hash as block 1 names it (None before block 1)."""
    by_number: dict[int, list[dict[str, Any]]] = {}
    for block in state.get("blocks", []):
        by_number.setdefault(int(block["header"]["number"], 16), []).append(block)
    if not by_number:
        return False, None
    dropped = False
    above: dict[str, Any] | None = None
    for number in sorted(by_number, reverse=True):
        candidates = by_number[number]
        if len(candidates) > 1:
            parent = (above["header"]["parentHash"]
                      if above is not None and int(above["header"]["number"], 16) == number + 1
                      else None)
            named = [b for b in candidates if parent and block_hash(b["header"]) == parent]
            kept = named[0] if named else min(
                candidates, key=lambda b: int(b["header"]["timestamp"], 16))
            by_number[number] = [kept]
            dropped = True
        above = by_number[number][0]
    if dropped:
        state["blocks"] = [blocks[0] for _, blocks in sorted(by_number.items())]
    first = by_number.get(1)
    return dropped, str(first[0]["header"]["parentHash"]) if first else None


def prepare_working_file(working: Path, durable: Path) -> tuple[Path, str | None] | None:
    """Makes `working` the newest complete dump, reduced to its canonical blocks, before anvil
    loads it; returns the file that dump came from and its genesis hash (None for a new chain).
    On equal mtimes the durable file is preferred (the working file was written from it).
    Raises IncompleteDump when state files exist but none is whole: starting a new chain over
    them would silently drop the old one."""
    _temporary(working).unlink(missing_ok=True)
    _temporary(durable).unlink(missing_ok=True)
    found = []
    for rank, path in enumerate((working, durable)):
        with contextlib.suppress(FileNotFoundError):
            found.append((path.stat().st_mtime_ns, rank, path))
    torn = []
    for mtime_ns, _, path in sorted(found, reverse=True):
        try:
            raw, state = read_dump(path)
        except IncompleteDump as exc:
            log.warning("the chain state file %s is incomplete (%s): trying an older one",
                        path, exc)
            torn.append(path)
            continue
        dropped, genesis = canonical_blocks(state)
        if dropped:
            raw = json.dumps(state, separators=(",", ":")).encode()
        del state
        if path == working:  # anvil's exit dump, newer than the durable file: keep it first
            write_atomically(durable, gzip.compress(raw, compresslevel=1), mtime_ns)
        if path == durable or dropped:
            write_atomically(working, raw, mtime_ns)
        if torn:
            log.warning("the chain starts from %s, the newest complete dump", path)
        return path, genesis
    if torn:
        raise IncompleteDump(
            f"no complete chain state: {', '.join(map(str, torn))} torn; move them away to "
            "start a new chain")
    return None


def dumped_head(state: dict[str, Any]) -> int:
    """The last block a dump holds (anvil writes the number as an integer or as hex)."""
    value = state["best_block_number"]
    return int(value, 16) if isinstance(value, str) else int(value)


def dumped_nonce(state: dict[str, Any], address: str) -> int:
    """An account's nonce in a dump's accounts (0 for an account it does not hold)."""
    accounts = state["accounts"]
    account = accounts.get(address.lower()) or accounts.get(to_checksum_address(address))
    if account is None:
        return 0
    value = account["nonce"]
    return int(value, 16) if isinstance(value, str) else int(value)


class StateSaver:
    """Writes the durable file of a running anvil every `interval` seconds, in a thread of the
    process that owns the node (which anvil dies with)."""

    def __init__(self, url: str, durable: Path, interval: float) -> None:
        self.url = url
        self.durable = durable
        self.interval = interval
        self.dumps = 0  # full dumps written
        self._http = httpx.Client(timeout=120)
        self._saved_head: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def _rpc(self, method: str, *params: object) -> object:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = self._http.post(self.url, json=body).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def _head(self) -> tuple[int, str]:
        head = self._rpc("eth_getBlockByNumber", "latest", False)
        assert isinstance(head, dict)
        return int(str(head["number"]), 16), str(head["hash"])

    def save(self) -> bool:
        """One dump, unless no block was made since the last one (then only the mtime moves
        on); True if a dump was written. A dump whose accounts are ahead of its blocks is
        taken again, up to DUMP_ATTEMPTS times; after that the durable file is left as it was
        (mtime included: it must not claim blocks it lacks) until the next interval."""
        for _ in range(DUMP_ATTEMPTS):
            asked = time.time_ns()  # every block mined before now is in what follows
            key = self._head()
            if key == self._saved_head and self.durable.exists():
                os.utime(self.durable, ns=(asked, asked))
                return False
            dump = self._rpc("anvil_dumpState")
            assert isinstance(dump, str)
            data = bytes.fromhex(dump.removeprefix("0x"))
            if self.holds_its_blocks(data, key):
                write_atomically(self.durable, data, asked)
                self._saved_head = key
                self.dumps += 1
                return True
            log.debug("a block was mined while the chain state was dumped: dumping again")
        log.warning("no dump of the chain state held its own blocks in %d attempts (blocks "
                    "are being mined without a pause): %s keeps the previous one",
                    DUMP_ATTEMPTS, self.durable)
        return False

    def holds_its_blocks(self, data: bytes, head_before: tuple[int, str]) -> bool:
        """Whether a dump (gzip'd, as anvil_dumpState returns it) asked when the head was
        `head_before` (number, hash) holds every block its accounts reflect. anvil reads the
        blocks first and the accounts after, each block's accounts are written before the block
        is recorded, and blocks only go forward: so the accounts are those of the dump's last
        block or of a later one, which the node then serves. The same head once the dump is
        answered: nothing was mined in between. Else the first transaction mined after the
        dump's last block tells: its sender's nonce in the dump is past it only if the dump's
        accounts hold its block (blocks without transactions change no account)."""
        after = self._head()
        if after == head_before:
            return True
        state = json.loads(gzip.decompress(data))
        for number in range(dumped_head(state) + 1, after[0] + 1):
            block = self._rpc("eth_getBlockByNumber", hex(number), True)
            if not isinstance(block, dict):
                break
            if block["transactions"]:
                first = block["transactions"][0]
                return dumped_nonce(state, str(first["from"])) <= int(str(first["nonce"]), 16)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
                self._failing = False
            except Exception as exc:  # the node restarting or gone: try again next time
                (log.debug if self._failing else log.warning)(
                    "could not save the chain state to %s: %s", self.durable, exc)
                self._failing = True

    def start(self) -> StateSaver:
        self._thread = threading.Thread(target=self._run, name="chain-state", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stops the thread, letting a dump in progress finish (its file stays whole anyway)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._http.close()
