"""Wiring: from settings to a running chain, deployment, ledger, database, indexer and API.

`Runtime.start` is what `tanhui up`, `tanhui demo` and the end-to-end tests share, so the product
runs the same way everywhere: embedded anvil + SQLite by default, or any JSON-RPC endpoint and
PostgreSQL by configuration.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from chain.client import Chain
from chain.compile import compile_contracts
from chain.deploy import Deployment, ensure_deployed, error_abis
from chain.node import AnvilNode, free_port
from core.config import Settings
from core.db import make_engine, migrate
from devkit.roster import SEATS, bootstrap_roster, dev_account, dev_accounts
from registry.ledger import Ledger
from tanhui.durable import ANVIL_STATE_FILE, durable_chain, replay_outbox
from tanhui.ownership import DataDirLock, secure_tree, write_private


@dataclass
class Runtime:
    settings: Settings
    chain: Chain
    deployment: Deployment
    ledger: Ledger
    engine: Engine
    node: AnvilNode | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: Any = None
    exchange: Any = None  # exchange.runtime.Exchange, once start_exchange() ran
    owner: DataDirLock | None = None  # the data directory's `stack` lock, held until stop()
    _exchange_lock: DataDirLock | None = None

    @property
    def rpc_url(self) -> str:
        return self.chain.url

    @classmethod
    def start(cls, settings: Settings, fresh: bool = False) -> Runtime:
        """Takes the data directory's `stack` lock (DataDirInUse if another process holds
        it), starts (or connects to) the chain, deploys if needed, migrates the database."""
        data = settings.ensure_data_dir()
        owner = DataDirLock(data, "stack").acquire()
        node: AnvilNode | None = None
        try:
            secure_tree(data)
            if settings.embedded_chain:
                node = embedded_node(settings).start()
                url = node.url
                replay_outbox(node, settings)  # what the chain lost since its last dump, re-sent
                # Other processes (oracle nodes, the CLI) find the embedded chain here.
                write_private(data / "rpc-url", url)
            else:
                assert settings.rpc_url is not None
                url = settings.rpc_url
            chain = durable_chain(url, error_abis(compile_contracts()), settings)
            deployment = ensure_deployed(
                chain,
                governance_account(settings),
                data / f"deployment-{chain.chain_id}.json",
                threshold=settings.attestation_threshold,
                base_uri=settings.base_url + "/v1/batches/{id}",
                fresh=fresh,
            )
            ledger = Ledger(chain, deployment)
            if settings.embedded_chain:
                bootstrap_roster(ledger, dev_accounts())
            migrate(settings.db_url)
            engine = make_engine(settings.db_url)
        except BaseException:
            if node is not None:
                node.stop()
            owner.release()
            raise
        return cls(settings, chain, deployment, ledger, engine, node, owner=owner)

    def start_indexer(self) -> None:
        """Follows the chain into SQL in a background thread until stop()."""
        from registry.indexer import Indexer

        indexer = Indexer(
            self.chain,
            self.deployment,
            self.engine,
            batch_blocks=self.settings.indexer_batch_blocks,
            confirmations=self.settings.confirmations,
        )
        t = threading.Thread(
            target=indexer.run,
            args=(self._stop, self.settings.indexer_poll_seconds),
            name="indexer",
            daemon=True,
        )
        t.start()
        self._threads.append(t)

    def app(self) -> Any:
        from api.app import create_app

        return create_app(self.settings, self.ledger, self.engine,
                          self.exchange.service if self.exchange is not None else None,
                          relayer=relayer_of(self.settings))

    def serve_in_background(self, port: int | None = None) -> str:
        """Runs the API with uvicorn in a thread; returns its base URL."""
        import uvicorn

        from api.limits import server_limits

        port = port or self.settings.api_port or free_port()
        config = uvicorn.Config(
            self.app(), host=self.settings.api_host, port=port, log_level="warning", lifespan="off",
            access_log=False, log_config=None,  # the API's own access log (api.observability)
            **server_limits(),
        )
        server = uvicorn.Server(config)
        t = threading.Thread(target=server.run, name="api", daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not t.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.02)
        self._server = server
        self._threads.append(t)
        return f"http://{self.settings.api_host}:{port}"

    def start_exchange(self, settle_interval: float = 0.5) -> bool:
        """Runs the exchange in this process (journal in <data dir>/exchange, settlement
        worker signing with the EXCHANGE key), so the API serves /v1/exchange. False, with
        nothing started, when no exchange key is configured for an external chain."""
        from exchange.runtime import open_exchange

        try:
            settler = exchange_account(self.settings)
        except RuntimeError:
            return False
        lock = DataDirLock(self.settings.data_dir, "exchange").acquire()
        try:
            self.exchange = open_exchange(self.ledger, self.settings.data_dir / "exchange",
                                          settler)
        except BaseException:
            lock.release()
            raise
        self._exchange_lock = lock
        self.exchange.start_worker(settle_interval)
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        for t in self._threads:
            t.join(timeout=10)
        if self.exchange is not None:
            self.exchange.stop()
        if self._exchange_lock is not None:
            self._exchange_lock.release()
        self.engine.dispose()
        if self.node is not None:
            self.node.stop()
        if self.owner is not None:
            self.owner.release()


def embedded_node(settings: Settings, die_with_parent: bool = True) -> AnvilNode:
    """The embedded chain of a data directory: its state files (anvil's working file and the
    durable file beside it, chain/state.py), log and PID record there; the state is saved every
    second."""
    data = settings.data_dir
    return AnvilNode(
        state_file=data / ANVIL_STATE_FILE,
        chain_id=settings.chain_id,
        port=settings.anvil_port,
        block_time=settings.anvil_block_time,
        log_file=data / "anvil.log",
        record_file=data / "anvil.pid",
        die_with_parent=die_with_parent,
    )


@dataclass
class Connection:
    """A running Tanhui's chain and registry, for a process that did not start them."""

    settings: Settings
    chain: Chain
    deployment: Deployment
    ledger: Ledger


def connect(settings: Settings) -> Connection:
    """Connects to the chain of a running `tanhui up` (TANHUI_RPC_URL, or the embedded anvil's
    URL from the data directory) and its checked deployment record; starts nothing."""
    from chain.deploy import Deployment, check_deployment

    url = settings.rpc_url
    if url is None:
        marker = settings.data_dir / "rpc-url"
        if not marker.exists():
            raise RuntimeError(f"no chain: set TANHUI_RPC_URL or run `tanhui up` ({marker})")
        url = marker.read_text().strip()
    artifacts = compile_contracts()
    chain = durable_chain(url, error_abis(artifacts), settings)
    try:
        chain_id = chain.chain_id
    except Exception as exc:
        raise RuntimeError(f"the chain at {url} does not answer; is `tanhui up` running?") from exc
    record = settings.data_dir / f"deployment-{chain_id}.json"
    if not record.exists():
        raise RuntimeError(f"no deployment record {record}; run `tanhui up` or `tanhui deploy`")
    deployment = Deployment.load(record, artifacts)
    check_deployment(chain, deployment, artifacts)
    return Connection(settings, chain, deployment, Ledger(chain, deployment))


def relayer_of(settings: Settings) -> LocalAccount | None:
    """The relayer key: configured (TANHUI_RELAYER_KEY or the deployer key), else on the
    embedded chain the governance development key."""
    from api.forwarding import relayer_account

    configured = relayer_account(settings)
    if configured is None and settings.embedded_chain:
        return dev_account(0)
    return configured


def oracle_account(settings: Settings, seat: str | None) -> LocalAccount:
    """An oracle node's key: TANHUI_ORACLE_KEY, or a development seat on the embedded chain."""
    if settings.oracle_key:
        acct: LocalAccount = Account.from_key(settings.oracle_key)
        return acct
    if not settings.embedded_chain:
        raise RuntimeError("TANHUI_ORACLE_KEY is required for an external chain")
    seats = dev_accounts()
    if seat not in seats:
        raise RuntimeError(f"unknown development seat {seat!r} (e.g. oracle1, oracle2, oracle3)")
    return seats[seat]


def exchange_account(settings: Settings) -> LocalAccount:
    """The key that submits settlement batches (EXCHANGE role): TANHUI_EXCHANGE_KEY, or the
    development exchange seat on the embedded chain."""
    if settings.exchange_key:
        acct: LocalAccount = Account.from_key(settings.exchange_key)
        return acct
    if not settings.embedded_chain:
        raise RuntimeError("TANHUI_EXCHANGE_KEY is required for an external chain")
    return dev_accounts()["exchange"]


def governance_account(settings: Settings) -> LocalAccount:
    """The deployer / governance key: anvil's first dev key on the embedded chain, else set."""
    if settings.deployer_key:
        acct: LocalAccount = Account.from_key(settings.deployer_key)
        return acct
    if not settings.embedded_chain:
        raise RuntimeError("TANHUI_DEPLOYER_KEY is required for an external chain")
    return dev_accounts()["governance"]


def provision_dev_api_keys(runtime: Runtime) -> dict[str, str]:
    """Gives every development seat an API key bound to its (custodial) dev key; idempotent.

    Keys are kept in the data directory (mode 0600) so `tanhui demo` and people trying the API
    can use them; production members get theirs through POST /v1/members.
    """
    from api.custody import create_api_account

    path = runtime.settings.data_dir / f"dev-api-keys-{runtime.chain.chain_id}.json"
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        if set(keys) == {s.key for s in SEATS}:
            return keys
    accounts = dev_accounts()
    keys = {}
    from core.db import session_factory

    with session_factory(runtime.engine)() as session:
        for s in SEATS:
            keys[s.key] = create_api_account(
                session, runtime.settings, s.name, account=accounts[s.key]
            )
        session.commit()
    write_private(path, json.dumps(keys, indent=2))
    return keys
