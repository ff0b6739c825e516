"""The embedded runtime: restarts keep the chain, and deployment records are never misused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.deploy import DeploymentError
from core.config import Settings
from registry.categories import SinkCategory
from tanhui.services import Runtime


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, rpc_url=None, database_url=f"sqlite:///{tmp_path}/t.db")


def test_restart_keeps_chain_state_and_reuses_deployment(tmp_path, acc):
    rt = Runtime.start(_settings(tmp_path))
    try:
        addresses = {n: c.address for n, c in rt.deployment.contracts.items()}
        rt.ledger.register_methodology(acc["operator"], "KEEP-1", "kept", b"\x01" * 32,
                                       b"\x02" * 32, 500, SinkCategory.MANGROVE)
    finally:
        rt.stop()
    rt = Runtime.start(_settings(tmp_path))
    try:
        assert {n: c.address for n, c in rt.deployment.contracts.items()} == addresses
        count = rt.chain.call(rt.ledger.c("MethodologyRegistry").functions.methodologyCount())
        assert count == 1
    finally:
        rt.stop()


def test_deployment_record_is_refused_when_chain_lost_its_code(tmp_path):
    """The chain's state is gone and so is the outbox that could have re-sent what it lost (a
    deployment whose transactions were not yet final would be re-sent and come back)."""
    Runtime.start(_settings(tmp_path)).stop()
    for state in ("anvil-state.json", "anvil-state.json.gz", "outbox.db", "outbox.db-wal",
                  "outbox.db-shm"):
        (tmp_path / state).unlink(missing_ok=True)
    with pytest.raises(DeploymentError, match="no code"):
        Runtime.start(_settings(tmp_path))


def test_deployment_record_is_refused_for_another_chain(tmp_path):
    Runtime.start(_settings(tmp_path)).stop()
    record = tmp_path / "deployment-31337.json"
    other = _settings(tmp_path).model_copy(update={"chain_id": 31338})
    (tmp_path / "deployment-31338.json").write_text(record.read_text())
    for state in ("anvil-state.json", "anvil-state.json.gz"):
        (tmp_path / state).unlink()
    with pytest.raises(DeploymentError, match="chain 31337"):
        Runtime.start(other)
