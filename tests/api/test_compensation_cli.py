"""`tanhui compensation` from a terminal: the same API calls, checks and codes as HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from typer.testing import CliRunner

from api.app import create_app
from devkit.scenario import Scenario
from registry.ledger import Ledger
from registry.tickets import Tickets
from tanhui.compensation_cli import app
from tests.support.api import TONNE, ApiDatabase, api_database, serving

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("compensation-cli")), acc)


@pytest.fixture
def url(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[str]:
    with serving(create_app(db.settings, ledger, db.engine, relayer=acc["governance"])) as base:
        yield base


def cli(url: str, *args: str, key: str | None = None) -> str:
    extra = ["--api", url] + (["--key", key] if key else [])
    result = runner.invoke(app, [*args, *extra])
    return f"{result.exit_code}\n{result.output}"


def test_an_authority_registers_an_order_and_a_party_retires_for_it_from_the_terminal(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    out = cli(url, "create", "--case", "（2026）桂07民初7号", "--tonnes", "3",
              "--category", "mangrove", "--region", "45", "--party",
              acc["trader1"].address, "--party-name", "广西北港新材料有限公司",
              "--deadline", "2099-12-31", "--document-hash", "0x" + keccak(text="j").hex(),
              "--json", key=db.keys["procuratorate"])
    assert out.startswith("0\n") and '"status": "open"' in out
    order_id = ledger.chain.call(ledger.c("CompensationOrders").functions.orderCount())
    out = cli(url, "amend", str(order_id), "--tonnes", "3", "--category", "mangrove",
              "--category", "seagrass", "--region", "45", "--party", acc["trader1"].address,
              "--party-name", "广西北港新材料有限公司", "--deadline", "2099-12-31",
              "--document-hash", "0x" + keccak(text="j").hex(), "--json",
              key=db.keys["procuratorate"])
    assert out.startswith("0\n") and '"seagrass"' in out, out
    s = Scenario(ledger, acc)
    b = s.batch(10 * TONNE, project_id=s.project(s.methodology()))
    ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 3 * TONNE)
    out = cli(url, "retire", str(order_id), "--batch", str(b.batch_id), "--amount", "3",
              key=db.keys["trader1"])
    assert out.startswith("0\n") and "fulfilled" in out, out
    out = cli(url, "case", "（2026）桂07民初7号", "--json")
    assert out.startswith("0\n") and '"status": "fulfilled"' in out


def test_a_refusal_prints_the_code_and_exits_non_zero(url: str, db: ApiDatabase) -> None:
    out = cli(url, "create", "--case", "x", "--tonnes", "1", "--category", "mangrove",
              "--party-name", "某", "--authority-pays", "--deadline", "2099-12-31",
              "--document-hash", "0x" + "11" * 32, key=db.keys["trader1"])
    assert out.startswith("1\n") and "403 forbidden_role" in out
    out = cli(url, "case", "no such case")
    assert out.startswith("1\n") and "404 case_not_found" in out


def test_a_party_retires_forest_tickets_for_an_order_from_the_terminal(
        url: str, db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    out = cli(url, "create", "--case", "（2026）闽0427刑初9号", "--tonnes", "2",
              "--category", "forest", "--party", acc["trader1"].address,
              "--party-name", "林某某", "--deadline", "2099-12-31",
              "--document-hash", "0x" + keccak(text="t").hex(), key=db.keys["procuratorate"])
    assert out.startswith("0\n"), out
    order_id = ledger.chain.call(ledger.c("CompensationOrders").functions.orderCount())
    s = Scenario(ledger, acc)
    issued = s.ticket(10 * TONNE)
    token = Tickets(ledger).transfer(acc["developer"], issued.token_id, acc["trader1"].address,
                                     2 * TONNE)
    out = cli(url, "retire", str(order_id), "--ticket", str(token), "--amount", "2",
              key=db.keys["trader1"])
    assert out.startswith("0\n") and "forest ticket retirement 1" in out, out
    assert "fulfilled" in out and "/v1/tickets/retirements/1/certificate" in out
    out = cli(url, "retire", str(order_id), "--amount", "2", key=db.keys["trader1"])
    assert out.startswith("2\n") and "--batch or --ticket" in out, out
