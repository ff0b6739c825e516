"""Where the master key comes from: the environment or a file kept apart from the data
directory; only the embedded development chain generates one next to the database."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from api.custody import CustodyError, load_master_key
from core.config import Settings

KEY = bytes(range(32))
ENCODED = base64.urlsafe_b64encode(KEY).decode()


def settings(data: Path, **kw: object) -> Settings:
    return Settings(data_dir=data, _env_file=None, **kw)  # type: ignore[call-arg]


def test_the_master_key_file_is_read_and_nothing_is_generated(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(ENCODED + "\n")
    key_file.chmod(0o400)
    s = settings(tmp_path / "data", master_key_file=key_file, rpc_url="http://chain:8545")
    assert load_master_key(s) == KEY
    assert not (tmp_path / "data").exists()


def test_an_external_chain_without_a_master_key_is_refused(tmp_path: Path) -> None:
    s = settings(tmp_path, rpc_url="http://chain:8545")
    with pytest.raises(CustodyError, match="TANHUI_MASTER_KEY_FILE"):
        load_master_key(s)
    assert not (tmp_path / "master.key").exists()


def test_an_external_chain_points_at_a_key_left_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_text(ENCODED)
    with pytest.raises(CustodyError, match="move it off the data directory"):
        load_master_key(settings(tmp_path, rpc_url="http://chain:8545"))


def test_a_missing_master_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    s = settings(tmp_path, master_key_file=tmp_path / "absent.key")
    with pytest.raises(CustodyError, match=r"absent\.key"):
        load_master_key(s)
    assert not (tmp_path / "absent.key").exists()
    assert not (tmp_path / "master.key").exists()


def test_both_master_key_settings_at_once_are_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text(ENCODED)
    with pytest.raises(CustodyError, match="not both"):
        load_master_key(settings(tmp_path, master_key=ENCODED, master_key_file=tmp_path / "k"))


def test_the_embedded_chain_generates_an_owner_only_key_in_a_private_data_dir(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = load_master_key(settings(data))
    assert len(key) == 32
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700
    assert load_master_key(settings(data)) == key
