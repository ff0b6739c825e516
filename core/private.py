"""Private directories: a data directory holds sealed custodial keys, API key hashes, the
exchange journal and possibly the master key, so it is the service user's alone (0700)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def make_private_dir(path: Path) -> Path:
    """Creates `path` (and parents) if missing; the directory itself ends up 0700 at most.

    A shared directory (sticky bit, as /tmp) is refused rather than closed to its other users.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & stat.S_ISVTX:
        raise RuntimeError(f"{path} is a shared directory (sticky bit): use a directory of "
                           "its own as the data directory")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    return path
