"""Admitting members through the API, their API keys and custodial keys, roles and freezes."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from api.custody import CustodyError, Vault, load_master_key, provision_api_account
from api.models import ApiAccount
from core.config import Settings
from core.db import session_factory
from devkit.scenario import Scenario
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api

HASH = "0x" + "cd" * 32


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-members")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_custodial_member_acts_without_gas_of_its_own(api: Api) -> None:
    made = api.post("/v1/members", "governance",
                    {"name": "三娘湾村集体经济合作社 Sanniang Bay village collective",
                     "profile_hash": HASH}, status=201)
    address, key = made["address"], made["api_key"]
    assert made["custodial"] is True and key.startswith("th_")
    ledger = api.ledger
    assert ledger.is_member(address)
    assert ledger.chain.w3.eth.get_balance(address) == 0

    s = Scenario(ledger, api.acc)
    methodology = s.methodology()
    r = api.http.post("/v1/projects", headers=as_key(key), json={
        "name": "三娘湾海草床 Sanniang Bay seagrass", "methodology_id": methodology,
        "division_code": 450703, "latitude": "21.6", "longitude": "108.8", "area_m2": 800_000,
        "boundary_hash": HASH, "crediting_start": 1_577_836_800, "crediting_end": 2_524_608_000,
    })
    assert r.status_code == 201, r.text
    assert r.json()["developer"] == address
    project = ledger.chain.call(
        ledger.c("ProjectRegistry").functions.getProject(r.json()["project_id"]))
    assert project[0] == address  # the chain records the member itself as developer


def test_api_keys_and_custodial_keys_are_stored_protected(api: Api) -> None:
    made = api.post("/v1/members", "operator", {"name": "北海银滩渔业公司"}, status=201)
    with session_factory(api.db.engine)() as session:
        row = session.scalar(select(ApiAccount).where(ApiAccount.address == made["address"]))
        assert row is not None and row.encrypted_key is not None
        assert row.api_key_hash == hashlib.sha256(made["api_key"].encode()).hexdigest()
        assert made["api_key"].encode() not in row.api_key_hash.encode()
        vault = Vault(load_master_key(api.db.settings))
        assert vault.open(row.address, row.encrypted_key).address == made["address"]
        # a ciphertext moved onto another account's row does not decrypt
        with pytest.raises(CustodyError):
            vault.open(api.acc["trader1"].address, row.encrypted_key)
    master = api.db.settings.data_dir / "master.key"
    assert stat.S_IMODE(os.stat(master).st_mode) == 0o600


def test_the_master_key_can_be_configured(tmp_path: Path) -> None:
    import base64

    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    settings = Settings(data_dir=tmp_path, master_key=key, _env_file=None)  # type: ignore[call-arg]
    assert load_master_key(settings) == bytes(range(32))
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(CustodyError):
        load_master_key(Settings(data_dir=tmp_path, master_key="c2hvcnQ=",  # type: ignore[call-arg]
                                 _env_file=None))


def test_provisioning_again_replaces_the_key(api: Api) -> None:
    account: LocalAccount = Account.create()
    with session_factory(api.db.engine)() as session:
        first = provision_api_account(session, api.db.settings, "A", account=account)
        second = provision_api_account(session, api.db.settings, "A", account=account)
        session.commit()
    assert first.api_key != second.api_key
    api.ledger.admit(api.acc["governance"], account.address, "A")
    old = api.http.post("/v1/transfers", headers=as_key(first.api_key), json={})
    assert old.status_code == 401
    new = api.http.post("/v1/transfers", headers=as_key(second.api_key), json={})
    assert new.status_code == 422  # authenticated; the empty body is what is wrong


def test_an_own_key_member_gets_an_api_key_once(api: Api) -> None:
    own = Account.create()
    made = api.post("/v1/members", "operator", {"name": "Own key", "address": own.address},
                    status=201)
    assert made["custodial"] is False
    again = api.raw("POST", "/v1/members", "governance",
                    {"name": "Own key", "address": own.address})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_member")


def test_an_address_with_an_api_account_is_not_admitted_twice(api: Api) -> None:
    outsider = api.acc["outsider"].address  # has an API key, is not a member
    r = api.raw("POST", "/v1/members", "governance", {"name": "x", "address": outsider})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "api_account_exists")
    assert not api.ledger.is_member(outsider)


def test_granted_roles_work_at_once(api: Api) -> None:
    trader3 = api.acc["trader3"].address
    granted = api.post(f"/v1/members/{trader3.lower()}/roles", "governance",
                       {"role": "verifier"}, status=201)
    assert (granted["address"], granted["role"]) == (trader3, "verifier")
    assert api.ledger.has_role("VERIFIER", trader3)
    again = api.raw("POST", f"/v1/members/{trader3}/roles", "governance", {"role": "verifier"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "role_already_granted")

    s = Scenario(api.ledger, api.acc)
    project = s.project(s.methodology(), stage="registered")
    api.post(f"/v1/projects/{project}/validate", "trader3", {"validation_report_hash": HASH})


def test_roles_only_go_to_members(api: Api) -> None:
    outsider = api.acc["outsider"].address
    r = api.raw("POST", f"/v1/members/{outsider}/roles", "governance", {"role": "oracle"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "account_not_member")
    bad = api.raw("POST", f"/v1/members/{outsider}/roles", "governance", {"role": "member"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    path = api.raw("POST", "/v1/members/0x1234/roles", "governance", {"role": "oracle"})
    assert (path.status_code, path.json()["error"]["code"]) == (422, "invalid_address")


def test_the_regulator_freezes_and_unfreezes_accounts(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    batch = s.batch(quantity=10 * TONNE)
    dev = api.acc["developer"].address
    frozen = api.post(f"/v1/members/{dev}/freeze", "regulator", {"reason_hash": HASH})
    assert frozen["frozen"] is True
    r = api.raw("POST", "/v1/transfers", "developer",
                {"to": api.acc["trader1"].address, "batch_id": batch.batch_id, "amount": "1"})
    assert r.json()["error"]["code"] == "account_frozen"
    twice = api.raw("POST", f"/v1/members/{dev}/freeze", "regulator", None)
    assert twice.json()["error"]["code"] == "account_already_frozen"
    api.post(f"/v1/members/{dev}/unfreeze", "regulator")
    api.post("/v1/transfers", "developer",
             {"to": api.acc["trader1"].address, "batch_id": batch.batch_id, "amount": "1"},
             status=201)
    not_frozen = api.raw("POST", f"/v1/members/{dev}/unfreeze", "regulator", {})
    assert not_frozen.json()["error"]["code"] == "account_not_frozen"
