"""Which process holds a pending `Idempotency-Key` claim, and whether it is still alive.

Why: a claim with no transaction yet is left behind when its API process dies before signing
(kill -9, a crash, a power cut). Until now a retry had to wait out the claim's lease (minutes),
answered `idempotency_in_progress` about a request nobody was running any more, because the
retrying process cannot tell a dead holder from a live one in another process (`tanhui up` and
`tanhui exchange run` both serve the API on one database). The attempt token now names its
process: this host's boot and process-id namespace, the process id and the process's start
time. A retry in the same boot and namespace whose holder process is gone (or is another
process reusing the id) takes the claim over at once; a holder on another host or in another
container, or a token of the older, random-only form, still waits for the lease.

Taking over is safe even if the judgement were wrong: the original attempt records its
transaction under its own token before broadcasting (api/idempotency.py `Slot.record_tx`), so
once its token is replaced it can no longer send anything.

Format (32 characters, the column's width): "p" + boot and namespace (7 hex) + pid (6 hex) +
start time (8 hex, clock ticks since boot, modulo 2^32) + random (10 hex). Random-only tokens
are hex, so they never start with "p".
"""

from __future__ import annotations

import hashlib
import os
import secrets
from functools import cache
from pathlib import Path

_MARK = "p"
PROC = Path("/proc")


@cache
def _boot() -> str | None:
    """This host's boot and process-id namespace (containers on one host share the boot but
    not the process ids), as 7 hex digits; None where /proc does not say (e.g. not Linux)."""
    try:
        boot_id = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot_id} {namespace}".encode()).hexdigest()[:7]


def _started(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if there is no such live
    process (gone, or a zombie)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of proc_pid_stat(5); fields here start at field 3


def new_attempt() -> str:
    """A fresh attempt token naming this process where the host can tell (else random)."""
    boot, pid = _boot(), os.getpid()
    started = _started(pid) if boot is not None else None
    if boot is None or started is None or pid >= 16**6:
        return secrets.token_hex(16)
    return f"{_MARK}{boot}{pid:06x}{started % 2**32:08x}{secrets.token_hex(5)}"


def holder_gone(attempt: str | None) -> bool:
    """True when the token names a process of this boot and namespace that no longer runs;
    False when it may still run (alive, on another host or boot, or not known)."""
    boot = _boot()
    if attempt is None or len(attempt) != 32 or not attempt.startswith(_MARK) or boot is None:
        return False
    if attempt[1:8] != boot:
        return False
    try:
        pid, started = int(attempt[8:14], 16), int(attempt[14:22], 16)
    except ValueError:
        return False
    now = _started(pid)
    return now is None or now % 2**32 != started
