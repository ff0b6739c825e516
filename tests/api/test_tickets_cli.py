"""`tanhui tickets` and `tanhui pledges` from a terminal: the same API calls, checks and codes
as HTTP, on a real chain behind a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from api.app import create_app
from devkit.scenario import Scenario
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.pledges import Pledges
from registry.tickets import Tickets
from tanhui.cli import app
from tests.support.api import TONNE, ApiDatabase, api_database, serving
from tests.support.tickets import chain_now, chain_tickets

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("tickets-cli")), acc)


@pytest.fixture
def url(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[str]:
    with serving(create_app(db.settings, ledger, db.engine, relayer=acc["governance"])) as base:
        yield base


def cli(url: str, *args: str, key: str | None = None) -> tuple[int, str]:
    extra = ["--api", url] + (["--key", key] if key else [])
    result = runner.invoke(app, [*args, *extra])
    return result.exit_code, result.output


def answer(url: str, *args: str, key: str | None = None) -> Any:
    code, out = cli(url, *args, key=key)
    assert code == 0, out
    return json.loads(out)


def test_a_ticket_is_issued_split_transferred_and_retired_from_the_terminal(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    project, report = Scenario(ledger, acc).forest_report(100 * TONNE)
    t = answer(url, "tickets", "issue", "--report", str(report), "--certificate",
               "闽(2024)三明市林权第0000042号", key=db.keys["forestry"])
    dev = db.keys["developer"]
    new = answer(url, "tickets", "split", str(t["id"]), "--amount", "10", key=dev)["new_id"]
    answer(url, "tickets", "merge", str(new), "--into", str(t["id"]), key=dev)
    moved = answer(url, "tickets", "transfer", str(t["id"]), "--to", acc["trader1"].address,
                   "--amount", "25", key=dev)
    retired = answer(url, "tickets", "retire", str(moved["new_id"]), "--amount", "5",
                     "--beneficiary", "三明市林业局", key=db.keys["trader1"])
    assert retired["serial_range"].endswith("000005000000")
    shown = answer(url, "tickets", "show", str(moved["new_id"]))
    assert (shown["owner"], shown["value"]) == (acc["trader1"].address, "20")
    Indexer(ledger.chain, ledger.deployment, db.engine).sync()
    code, out = cli(url, "tickets", "parcel", str(project))
    assert code == 0 and "75" in out and "20" in out, out


def test_a_refusal_prints_its_code_and_changes_nothing(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    t = Scenario(ledger, acc).ticket(3 * TONNE)
    before = chain_tickets(ledger)
    code, out = cli(url, "tickets", "split", str(t.token_id), "--amount", "4",
                    key=db.keys["developer"])
    assert code == 1 and "insufficient_value" in out
    assert chain_tickets(ledger) == before


def test_a_ticket_is_pledged_listed_and_released_from_the_terminal(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    t = Scenario(ledger, acc).ticket(30 * TONNE)
    bank = acc["bank"].address
    made = answer(url, "pledges", "pledge", "--ticket", str(t.token_id), "--amount", "18",
                  "--bank", bank, "--loan", "林票质押 2024-018", "--yuan", "50000",
                  "--maturity", str(chain_now(ledger) + 86_400), key=db.keys["developer"])
    pledge_id = made["pledge"]["id"]
    code, out = cli(url, "pledges", "release", str(pledge_id), key=db.keys["developer"])
    assert code == 1 and "not_pledge_bank" in out
    code, out = cli(url, "pledges", "foreclose", str(pledge_id), key=db.keys["bank"])
    assert code == 1 and "not_matured" in out
    listed = answer(url, "pledges", "list", "--bank", bank, "--json")
    assert [p["id"] for p in listed] == [pledge_id]
    answer(url, "pledges", "release", str(pledge_id), key=db.keys["bank"])
    assert Pledges(ledger).pledge(pledge_id).status.name == "RELEASED"
    assert Tickets(ledger).owner_of(made["pledge"]["token_id"]) == acc["developer"].address
