"""`tanhui retail` from a terminal, over real HTTP: the same API calls, checks and codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from api.app import create_app
from devkit.scenario import Scenario
from registry.ledger import Ledger
from tanhui.cli import app
from tests.support.api import TONNE, ApiDatabase, api_database, serving

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("retail-cli")), acc)


@pytest.fixture
def url(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[str]:
    with serving(create_app(db.settings, ledger, db.engine, relayer=acc["governance"])) as base:
        yield base


def cli(url: str, *args: str, key: str | None = None) -> str:
    extra = ["--api", url] + (["--key", key] if key else [])
    result = runner.invoke(app, ["retail", *args, *extra])
    return f"{result.exit_code}\n{result.output}"


def test_a_seat_stocks_sells_half_a_tonne_and_looks_up_the_receipt(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    ticket = Scenario(ledger, acc).ticket(2 * TONNE, owner="retail").token_id
    key = db.keys["retail"]
    assert cli(url, "stock", "--ticket", str(ticket), "--amount", "2", key=key).startswith("0\n")
    out = cli(url, "sell", "--ticket", str(ticket), "--amount", "0.5", "--beneficiary",
              "恩施市民 张三", "--receipt", "ES-0001", "--price", "7.50", key=key)
    assert out.startswith("0\n") and "/v1/tickets/retirements/1/certificate" in out, out
    out = cli(url, "sales", "--seat", acc["retail"].address, "--receipt", "ES-0001", "--json")
    assert out.startswith("0\n") and '"total_price_fen": 750' in out, out


def test_a_sale_below_a_kilogram_prints_its_code_and_exits_non_zero(
        url: str, db: ApiDatabase) -> None:
    out = cli(url, "sell", "--batch", "1", "--amount", "0.0001", "--beneficiary", "某",
              "--receipt", "r", "--price", "1", key=db.keys["retail"])
    assert out.startswith("1\n") and "422 below_minimum_retail" in out, out
