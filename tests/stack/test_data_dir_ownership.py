"""One owner per data directory, and nothing in it for anyone else: a `tanhui up` killed with
kill -9 takes its chain node along (state saved), a restart runs exactly one node on the state
file and still has what was acknowledged, a second `tanhui up` is refused while one serves, a
node left behind by an earlier run is stopped rather than duplicated, and the directory is
owner-only and free of development private keys. Real `tanhui up` processes throughout."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from sqlalchemy import create_engine, select

from api.custody import Vault
from api.models import ApiAccount
from chain.node import anvil_binary, free_port
from core.config import DEV_MNEMONIC, Settings
from devkit.roster import dev_accounts
from tanhui.services import connect
from tests.support.processes import (
    TANHUI,
    chain_nodes_on,
    output_of,
    stack_env,
    start,
    start_up,
    stop,
)

Account.enable_unaudited_hdwallet_features()
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Restarted:
    """A `tanhui up` that was killed with kill -9 right after an acknowledged write, then
    started again on the same data directory (still serving)."""

    data: Path
    env: dict[str, str]
    up: subprocess.Popen[str]
    master_key: bytes
    admitted: str  # the member admitted (201) just before the kill
    node_gone_after: float | None  # seconds until the killed stack's anvil was gone
    state_after_kill: dict[str, object] | None  # the state file as the killed node left it

    @property
    def state_file(self) -> Path:
        return self.data / "anvil-state.json"


def api_keys(data: Path, timeout: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        found = next(data.glob("dev-api-keys-*.json"), None)
        if found is not None:
            keys: dict[str, str] = json.loads(found.read_text())
            return keys
        assert time.monotonic() < deadline, "no development API keys"
        time.sleep(0.2)


def wait_gone(state_file: Path, timeout: float) -> float | None:
    t0 = time.monotonic()
    while chain_nodes_on(state_file):
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.1)
    return time.monotonic() - t0


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restarted]:
    tmp = tmp_path_factory.mktemp("owner")
    data = tmp / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # an existing, too open directory is tightened
    secrets = tmp / "secrets"
    secrets.mkdir()
    master = bytes(range(32))
    (secrets / "master.key").write_text(base64.urlsafe_b64encode(master).decode())
    os.chmod(secrets / "master.key", 0o400)
    env = {**stack_env(data), "TANHUI_MASTER_KEY_FILE": str(secrets / "master.key")}

    first = start_up(env)
    try:
        governance = api_keys(data)["governance"]
        admitted = Account.create().address
        r = httpx.post(f"http://127.0.0.1:{env['TANHUI_API_PORT']}/v1/members",
                       headers={"Authorization": f"Bearer {governance}"},
                       json={"name": "Beihai Mangrove Cooperative", "address": admitted},
                       timeout=30)
        assert r.status_code == 201, r.text
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    gone_after = wait_gone(data / "anvil-state.json", timeout=10)
    try:
        state = json.loads((data / "anvil-state.json").read_text())
    except ValueError:
        state = None
    for leftover in (data / "anvil-state.json", data / "tanhui.db"):
        os.chmod(leftover, 0o644)  # files left looser (by an earlier version) are tightened

    env = {**env, "TANHUI_API_PORT": str(free_port())}
    second = start_up(env)
    try:
        yield Restarted(data, env, second, master, admitted, gone_after, state)
    finally:
        stop(second)


def test_a_killed_up_takes_its_chain_node_along_and_the_state_file_is_whole(
        restarted: Restarted) -> None:
    assert restarted.node_gone_after is not None, "the chain node outlived tanhui up"
    assert restarted.node_gone_after < 5
    assert restarted.state_after_kill is not None and "block" in restarted.state_after_kill


def test_a_restart_runs_exactly_one_chain_node_on_the_state_file(restarted: Restarted) -> None:
    nodes = chain_nodes_on(restarted.state_file)
    assert len(nodes) == 1
    record = json.loads((restarted.data / "anvil.pid").read_text())
    assert record["pid"] == nodes[0]


def test_what_was_acknowledged_before_the_kill_is_on_the_restarted_chain(
        restarted: Restarted) -> None:
    conn = connect(Settings(data_dir=restarted.data, _env_file=None))  # type: ignore[call-arg]
    assert conn.ledger.is_member(restarted.admitted)


def test_a_second_up_on_the_data_dir_is_refused_naming_the_holder(restarted: Restarted) -> None:
    env = {**restarted.env, "TANHUI_API_PORT": str(free_port())}
    second = subprocess.run([*TANHUI, "up"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert second.returncode != 0
    assert "in use" in second.stdout
    assert f"pid {restarted.up.pid}" in second.stdout
    assert restarted.up.poll() is None
    assert len(chain_nodes_on(restarted.state_file)) == 1


def test_an_exchange_beside_an_up_that_runs_one_is_refused(restarted: Restarted) -> None:
    ex = subprocess.run([*TANHUI, "exchange", "run", "--port", str(free_port())],
                        env=restarted.env, capture_output=True, text=True, timeout=120,
                        check=False)
    assert ex.returncode != 0
    assert "exchange" in ex.stdout and f"pid {restarted.up.pid}" in ex.stdout


def test_status_names_the_process_that_owns_the_data_dir(restarted: Restarted) -> None:
    status = subprocess.run([*TANHUI, "status"], env=restarted.env, capture_output=True,
                            text=True, timeout=120, check=True)
    assert f"`tanhui up` (pid {restarted.up.pid})" in status.stdout
    assert f"the exchange (pid {restarted.up.pid})" in status.stdout


def test_the_data_dir_is_owner_only(restarted: Restarted) -> None:
    entries = [restarted.data, *restarted.data.rglob("*")]
    modes = {str(p.relative_to(restarted.data)): stat.S_IMODE(p.lstat().st_mode)
             for p in entries}
    expected = {str(p.relative_to(restarted.data)): 0o700 if p.is_dir() else 0o600
                for p in entries}
    assert {p: oct(m) for p, m in modes.items() if m != expected[p]} == {}
    for name in ("tanhui.db", "tanhui.db-wal", "anvil-state.json", "anvil-state.json.gz",
                 "anvil.log", "rpc-url",
                 "exchange/journal.log", "exchange/archive.db", "deployment-31337.json",
                 "dev-api-keys-31337.json", "stack.pid", "anvil.pid"):
        assert name in modes


def test_the_master_key_file_is_used_and_not_copied_into_the_data_dir(
        restarted: Restarted) -> None:
    assert not list(restarted.data.rglob("master.key"))
    engine = create_engine(f"sqlite:///{restarted.data / 'tanhui.db'}")
    governance = dev_accounts()["governance"]
    with engine.connect() as db:
        sealed = db.scalar(select(ApiAccount.encrypted_key)
                           .where(ApiAccount.address == governance.address))
    engine.dispose()
    assert sealed is not None
    assert Vault(restarted.master_key).open(governance.address, sealed).key == governance.key


def test_no_development_private_key_is_written_under_the_data_dir(restarted: Restarted) -> None:
    secrets = [DEV_MNEMONIC.encode()]
    for i in range(20):  # every account anvil derives from its development mnemonic
        key = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key
        secrets += [key.hex().removeprefix("0x").encode(), bytes(key)]
    files = [p for p in restarted.data.rglob("*") if p.is_file()]
    assert any(p.name == "anvil.log" for p in files)
    leaks = {str(p.relative_to(restarted.data)) for p in files
             for s in secrets if s in p.read_bytes().lower()}
    assert leaks == set()
    keys = json.loads(next(restarted.data.glob("dev-api-keys-*.json")).read_text())
    assert all(k.startswith("th_") for k in keys.values())  # API keys, not private keys


def test_a_chain_node_left_by_an_earlier_run_is_stopped_not_duplicated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = stack_env(data)
    marked = Account.create().address
    # An earlier run whose node was not tied to it (an older version, or a parent that died
    # before the kernel could take the node along): the node outlives the throw-away parent.
    leftover = subprocess.run([sys.executable, "-c", f"""
import os
from core.config import Settings
from tanhui.services import embedded_node
node = embedded_node(Settings(), die_with_parent=False).start()
import httpx
httpx.post(node.url, json={{"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
                           "params": ["{marked}", "0x1234567"]}})
print(node.pid)
os._exit(0)
"""], env=env, capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    orphan = int(leftover.stdout.split()[-1])
    state_file = data / "anvil-state.json"
    assert chain_nodes_on(state_file) == [orphan]

    up = start_up(env)
    try:
        nodes = chain_nodes_on(state_file)
        assert len(nodes) == 1 and orphan not in nodes
        conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
        assert conn.chain.w3.eth.get_balance(marked) == 0x1234567  # it saved its state
    finally:
        stop(up)
    out = output_of(up)
    assert f"pid {orphan}" in out and "earlier run" in out


def test_an_unrecorded_process_on_the_state_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = stack_env(data)
    stranger = subprocess.Popen(
        [str(anvil_binary()), "--port", str(free_port()), "--quiet",
         "--state", str(data / "anvil-state.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    up = start(["up"], env)
    try:
        up.wait(timeout=120)
        out = output_of(up)
        assert up.returncode != 0
        assert f"process {stranger.pid}" in out and "state file" in out
        assert chain_nodes_on(data / "anvil-state.json") == [stranger.pid]
    finally:
        stop(up)
        stranger.send_signal(signal.SIGINT)
        stranger.wait(timeout=30)


@pytest.mark.parametrize("command", [["up"], ["exchange", "run"]])
def test_an_external_chain_without_an_explicit_master_key_is_refused(
        tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "data"
    env = {**stack_env(data), "TANHUI_RPC_URL": f"http://127.0.0.1:{free_port()}",
           "TANHUI_DEPLOYER_KEY": dev_accounts()["governance"].key.hex(),
           "TANHUI_EXCHANGE_KEY": dev_accounts()["exchange"].key.hex()}
    env.pop("TANHUI_MASTER_KEY", None)
    env.pop("TANHUI_MASTER_KEY_FILE", None)
    done = subprocess.run([*TANHUI, *command], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0
    assert "TANHUI_MASTER_KEY_FILE" in done.stdout
    assert not (data / "master.key").exists()


pytestmark = pytest.mark.timeout(300)
