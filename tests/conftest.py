"""Shared fixtures: one real anvil per test session, contracts deployed once, and a chain
snapshot reverted after every test so tests stay independent and fast."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import settings

from chain.client import Chain
from chain.compile import Artifact, compile_contracts
from chain.deploy import Deployment, deploy_all, error_abis
from chain.node import AnvilNode
from devkit.roster import bootstrap_roster, dev_accounts
from registry.ledger import Ledger

# The exchange harness (api, db, ex, market) is shared by every exchange specification.
pytest_plugins = ["tests.support.exchange"]

# Property tests draw the same examples on every run (set HYPOTHESIS_PROFILE=explore to search
# afresh): the suite stays deterministic, and a failure seen once is seen again.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture(scope="session")
def node() -> Iterator[AnvilNode]:
    with AnvilNode(state_file=None) as n:
        yield n


@pytest.fixture(scope="session")
def chain(node: AnvilNode, artifacts: dict[str, Artifact]) -> Chain:
    return Chain(node.url, error_abis(artifacts))


@pytest.fixture(scope="session")
def acc() -> dict[str, LocalAccount]:
    """Development consortium accounts by seat key (see devkit.roster.SEATS)."""
    return dev_accounts()


@pytest.fixture(scope="session")
def deployment(chain: Chain, acc: dict[str, LocalAccount],
               artifacts: dict[str, Artifact]) -> Deployment:
    d = deploy_all(chain, acc["governance"], threshold=2, base_uri="tanhui://batch/{id}",
                   artifacts=artifacts)
    bootstrap_roster(Ledger(chain, d), acc)
    return d


@pytest.fixture
def ledger(chain: Chain, deployment: Deployment) -> Iterator[Ledger]:
    """The deployed registry, rolled back to the post-deployment state after the test."""
    snap = chain.rpc("evm_snapshot")
    try:
        yield Ledger(chain, deployment)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()
