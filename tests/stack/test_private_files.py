"""Private files of the data directory (API keys, PID files, the RPC URL) are written whole or
not at all, readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tanhui.ownership import write_private


def test_a_private_file_is_owner_only_even_over_a_looser_one(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_private(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_private(path, "whole")
    with pytest.raises(UnicodeEncodeError):
        write_private(path, "cut \ud800 short")  # not encodable: fails in the middle
    assert path.read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]
