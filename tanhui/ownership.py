"""Who owns a data directory, and who may read it.

A data directory holds one chain state file, one database and one exchange journal; two
processes writing them at once overwrite each other. Each role therefore takes an exclusive
lock in the directory for as long as it runs:

- `stack`: `tanhui up`, `tanhui demo` and `tanhui deploy` (the embedded chain, the deployment,
  the indexer and the API);
- `exchange`: the exchange, inside `tanhui up` or as `tanhui exchange run`.

So `tanhui up --no-exchange` and `tanhui exchange run` share a directory, while a second
`tanhui up` (or a second exchange) is refused, naming the process that holds it. The lock is a
`flock` on `<role>.lock`, released by the kernel however the holder dies (kill -9 included), so
there are no stale locks to clean up; `<role>.pid` next to it names the holder. Oracle nodes
take no lock here: each keeps its own state file.

The directory holds sealed custodial keys, API key hashes, the journal and possibly the master
key, so it is kept private to the service user: 0700 for directories, 0600 for files.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

ROLES = {"stack": "`tanhui up`", "exchange": "the exchange"}


class DataDirInUse(RuntimeError):
    """Another process holds this role's lock on the data directory."""


class DataDirLock:
    """An exclusive, process-lifetime lock of one role on a data directory."""

    def __init__(self, data_dir: Path, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.data_dir = data_dir
        self.role = role
        self.lock_path = data_dir / f"{role}.lock"
        self.pid_path = data_dir / f"{role}.pid"
        self._file: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            holder = self.holder()
            who = f"pid {holder}" if holder is not None else "a process that is still starting"
            raise DataDirInUse(
                f"the data directory {self.data_dir} is in use: {ROLES[self.role]} runs there "
                f"already ({who}); stop it first or use another --data-dir") from None
        self._file = f
        write_private(self.pid_path, f"{os.getpid()}\n")
        return self

    def holder(self) -> int | None:
        """The PID recorded by the current holder (None if unreadable)."""
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> int | None:
        """The holder's PID while another process holds the lock (0 if it wrote none yet),
        else None; takes nothing."""
        if self.held or not self.lock_path.exists():
            return None
        with open(self.lock_path) as f:
            try:  # a shared lock: probes do not exclude each other
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self.holder() or 0
        return None

    def release(self) -> None:
        f, self._file = self._file, None
        if f is None:
            return
        if self.holder() == os.getpid():
            self.pid_path.unlink(missing_ok=True)
        f.close()  # closing the descriptor drops the flock

    @property
    def held(self) -> bool:
        return self._file is not None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def secure_tree(root: Path) -> int:
    """Takes group and other permissions off every directory and file under `root` (files keep
    their owner bits: 0644 becomes 0600, 0400 stays 0400). Symlinks are not followed. Returns
    how many entries were tightened."""
    tightened = int(_tighten(str(root)))
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            tightened += _tighten(os.path.join(dirpath, name))
    if tightened:
        log.warning("tightened the permissions of %d entries under %s to owner-only",
                    tightened, root)
    return tightened


def _tighten(path: str) -> bool:
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or not stat.S_IMODE(st.st_mode) & 0o077:
            return False
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    except FileNotFoundError:  # removed meanwhile (a snapshot's temporary file)
        return False
    return True


def write_private(path: Path, text: str) -> None:
    """Writes a file readable by its owner only (also when it existed looser), whole or not at
    all: the text goes to a temporary file beside it, made durable, then renamed over it, so a
    reader (or a start after a crash) never finds it empty or cut short."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
