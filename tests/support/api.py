"""Shared harness for the API tests (this module holds no tests).

The real app over its real ASGI HTTP stack (`TestClient`), on the session's anvil deployment,
with a migrated SQLite database in a temporary directory and an API key for every development
seat, bound to its dev key as a custodial key (as `tanhui up` provisions them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.custody import create_api_account
from core.config import Settings
from core.db import make_engine, migrate, session_factory
from devkit.roster import SEATS
from registry.ledger import Ledger

PUBLIC_URL = "https://registry.tanhui.example"
TONNE = 1_000_000


@dataclass(frozen=True)
class ApiDatabase:
    """A migrated database with one API key per seat, shared by a test module."""

    settings: Settings
    engine: Engine
    keys: dict[str, str]


def api_database(directory: Path, acc: dict[str, LocalAccount]) -> ApiDatabase:
    url = f"sqlite:///{directory / 'api.db'}"
    migrate(url)
    engine = make_engine(url)
    settings = Settings(data_dir=directory, rpc_url=None, database_url=url,
                        public_url=PUBLIC_URL, _env_file=None)  # type: ignore[call-arg]
    keys = {}
    with session_factory(engine)() as session:
        for seat in SEATS:
            keys[seat.key] = create_api_account(session, settings, seat.name, account=acc[seat.key])
        session.commit()
    return ApiDatabase(settings, engine, keys)


@dataclass
class HttpApi:
    """HTTP calls as a seat; every answer's status is asserted. `http` is any client of the
    app: a real HTTP connection (`served_api`) or the in-process ASGI one (`Api`)."""

    http: httpx.Client
    db: ApiDatabase
    ledger: Ledger
    acc: dict[str, LocalAccount]

    def headers(self, seat: str | None) -> dict[str, str]:
        return {} if seat is None else {"Authorization": f"Bearer {self.db.keys[seat]}"}

    def call(self, method: str, path: str, seat: str | None = None, body: Any = None,
             status: int = 200, headers: dict[str, str] | None = None) -> Any:
        r = self.raw(method, path, seat, body, headers)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") \
            else r.text

    def raw(self, method: str, path: str, seat: str | None = None, body: Any = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.request(method, path, json=body,
                                 headers={**self.headers(seat), **(headers or {})})

    def post(self, path: str, seat: str | None, body: Any = None, status: int = 200,
             headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", path, seat, body, status, headers)

    def get(self, path: str, status: int = 200) -> Any:
        return self.call("GET", path, None, None, status)

    def read(self, path: str, seat: str, status: int = 200) -> Any:
        """A GET as `seat` (a member's own orders and cash need its API key)."""
        return self.call("GET", path, seat, None, status)

    def error(self, method: str, path: str, seat: str | None, body: Any, status: int) -> str:
        """The error code of a refused call (asserting the status and the error shape)."""
        r = self.raw(method, path, seat, body)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        error = r.json()["error"]
        assert set(error) == {"code", "message", "details"}
        return str(error["code"])


@dataclass
class Api(HttpApi):
    """`HttpApi` over the app's ASGI stack in process (`TestClient`: websockets too)."""

    http: TestClient


@contextmanager
def served_api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[HttpApi]:
    """The app served over real HTTP on a local port, called through a real connection."""
    with serving(create_app(db.settings, ledger, db.engine, relayer=acc["governance"])) as base, \
            httpx.Client(base_url=base, timeout=120) as http:
        yield HttpApi(http, db, ledger, acc)


def open_api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Api:
    client = TestClient(create_app(db.settings, ledger, db.engine, relayer=acc["governance"]))
    return Api(client, db, ledger, acc)


def relay_body(api: Api, signer: LocalAccount, target: str, data: bytes,
               gas: int = 500_000) -> dict[str, Any]:
    """A ForwardRequest for `data` on registry contract `target`, signed by `signer` the way an
    own-key client does (the API's published domain, eth-account), as POST /v1/relay takes it."""
    info = api.http.get("/v1/relay/domain").json()
    nonce = api.http.get(f"/v1/relay/nonce/{signer.address}").json()["nonce"]
    deadline = int(api.ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 600
    message = {"from": signer.address, "to": info["targets"][target], "value": 0, "gas": gas,
               "nonce": nonce, "deadline": deadline, "data": data}
    signed = signer.sign_typed_data(full_message={
        "types": info["types"], "primaryType": info["primaryType"], "domain": info["domain"],
        "message": message})
    body = {k: v for k, v in message.items() if k != "nonce"}
    return {**body, "data": "0x" + data.hex(), "signature": "0x" + bytes(signed.signature).hex()}


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served over real HTTP on a free local port for as long as the block runs (for
    clients that make their own connections, such as the command line); yields the base URL."""
    import threading

    import uvicorn

    from chain.node import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
