"""`tanhui` command line: bring the stack up, run the demo, show status, deploy."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.config import Settings

if TYPE_CHECKING:
    from registry.ledger import Ledger
    from tanhui.services import Runtime

app = typer.Typer(help="Tanhui 碳汇 — carbon asset registry and exchange", no_args_is_help=True)
console = Console()


def _register_subcommands() -> None:
    from tanhui.audit_cli import app as audit_app
    from tanhui.compensation_cli import app as compensation_app
    from tanhui.exchange_cli import app as exchange_app
    from tanhui.oracle_cli import app as oracle_app
    from tanhui.retail_cli import app as retail_app
    from tanhui.tickets_cli import pledges_app, tickets_app

    app.add_typer(oracle_app, name="oracle")
    app.add_typer(exchange_app, name="exchange")
    app.add_typer(compensation_app, name="compensation")
    app.add_typer(retail_app, name="retail")
    app.add_typer(tickets_app, name="tickets")
    app.add_typer(pledges_app, name="pledges")
    app.add_typer(audit_app, name="audit")


_register_subcommands()


def _show_version(value: bool) -> None:
    if value:
        from core.version import VERSION

        typer.echo(f"tanhui {VERSION}")
        raise typer.Exit()


@app.callback()
def _private_files(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Tanhui 碳汇 — carbon asset registry and exchange."""
    # Everything this process and its children (anvil, SQLite) create is owner-only: the data
    # directory holds sealed custodial keys, API key hashes and the exchange journal.
    os.umask(0o077)


def _fail(message: object) -> typer.Exit:
    console.print(f"[red]{message}[/red]", soft_wrap=True)
    return typer.Exit(2)


def _start_runtime(settings: Settings, fresh: bool = False) -> Runtime:
    """Runtime.start with the data directory's owner and the chain node's refusals shown as
    one line and exit status 2 instead of a traceback."""
    from chain.node import NodeError
    from core.logs import configure_logging
    from tanhui.ownership import DataDirInUse
    from tanhui.services import Runtime

    # a person watching `tanhui up` sees warnings; TANHUI_LOG_LEVEL=INFO adds the access log
    configure_logging("tanhui", default_level=logging.WARNING)
    try:
        return Runtime.start(settings, fresh=fresh)
    except (DataDirInUse, NodeError) as exc:
        raise _fail(exc) from None


DataDir = Annotated[
    str | None, typer.Option("--data-dir", help="Data directory (chain state, DB).")
]


def _print_urls(rt: object, api_url: str) -> None:
    from tanhui.services import Runtime

    assert isinstance(rt, Runtime)
    t = Table(title="Tanhui is up", show_header=False)
    t.add_row("API", api_url)
    t.add_row("API docs", api_url + "/docs")
    t.add_row("Chain RPC", f"{rt.rpc_url} (chain id {rt.chain.chain_id})")
    t.add_row("Database", rt.settings.db_url)
    t.add_row("Deployment", str(rt.settings.data_dir / f"deployment-{rt.chain.chain_id}.json"))
    for name, rec in rt.deployment.contracts.items():
        t.add_row(f"  {name}", rec.address)
    console.print(t)


@app.command()
def up(
    data_dir: DataDir = None,
    port: Annotated[int | None, typer.Option(help="API port.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Run the demo once it is up.")] = False,
    exchange: Annotated[bool, typer.Option(
        help="Run the exchange in this process (else run `tanhui exchange run` apart).")] = True,
) -> None:
    """Start the chain (embedded anvil unless TANHUI_RPC_URL is set), deploy if needed, and serve
    the API, the indexer and the exchange until interrupted. State persists in the data
    directory."""
    from api.custody import CustodyError, load_master_key
    from exchange.journal import JournalInUse
    from tanhui.ownership import DataDirInUse
    from tanhui.services import provision_dev_api_keys

    settings = Settings.at(data_dir)
    if not settings.embedded_chain:  # refuse before anything starts, not at the first request
        try:
            load_master_key(settings)
        except CustodyError as exc:
            raise _fail(exc) from None
    rt = _start_runtime(settings)
    try:
        rt.start_indexer()
        try:
            if exchange and not rt.start_exchange():
                console.print("[yellow]Exchange off: set TANHUI_EXCHANGE_KEY to run it[/yellow]")
        except (DataDirInUse, JournalInUse) as exc:
            raise _fail(f"{exc} (or start with --no-exchange)") from None
        api_url = rt.serve_in_background(port if port is not None else settings.api_port)
        keys = provision_dev_api_keys(rt) if settings.embedded_chain else {}
        _print_urls(rt, api_url)
        if keys:
            console.print(
                f"Development API keys: {settings.data_dir}/dev-api-keys-{rt.chain.chain_id}.json"
            )
        if demo:
            _run_demo(api_url, keys, settings, rt.ledger)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        console.print("Serving; Ctrl-C to stop.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        rt.stop()
        console.print("Stopped; chain state saved.")


@app.command()
def demo(
    data_dir: DataDir = None,
    api: Annotated[
        str | None, typer.Option(help="Use a running API instead of starting one.")
    ] = None,
) -> None:
    """Run the end-to-end scenario (Maowei Sea mangroves, Qinzhou, Guangxi) through the HTTP API."""
    from tanhui.services import provision_dev_api_keys

    settings = Settings.at(data_dir)
    if api:
        keys_file = next(settings.data_dir.glob("dev-api-keys-*.json"), None)
        if keys_file is None:
            raise typer.BadParameter("no development API keys in the data directory")
        from tanhui.services import connect

        _run_demo(api, json.loads(keys_file.read_text()), settings, connect(settings).ledger)
        return
    rt = _start_runtime(settings)
    try:
        rt.start_indexer()
        rt.start_exchange()
        api_url = rt.serve_in_background(0 if settings.api_port == 8000 else settings.api_port)
        keys = provision_dev_api_keys(rt)
        _print_urls(rt, api_url)
        ok = _run_demo(api_url, keys, settings, rt.ledger)
    finally:
        rt.stop()
    if not ok:
        raise typer.Exit(1)


def _run_demo(api_url: str, keys: dict[str, str], settings: Settings, ledger: Ledger) -> bool:
    from devkit.demo import Demo, DemoError, oracle_pass
    from devkit.roster import dev_accounts

    addresses = {k: a.address for k, a in dev_accounts().items()}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Demo", total=Demo.STEPS + 1)

        def on_step(step: object) -> None:
            progress.update(task, advance=1, description=getattr(step, "name", "step"))

        nodes = oracle_pass(settings.oracle_inbox, settings.data_dir / "oracle", ledger)
        d = Demo(api_url, keys, addresses, nodes, on_step)
        try:
            result = d.run()
        except DemoError as exc:
            console.print(f"[red]Demo failed:[/red] {exc}")
            return False
        _wait_for_index(d.http)
        result = d.collect(result)
        progress.update(task, advance=1, description="Done")

    steps = Table(title="Demo: Maowei Sea mangrove credits, issued → traded → retired")
    steps.add_column("#", justify="right")
    steps.add_column("step")
    steps.add_column("detail")
    steps.add_column("tx")
    for i, s in enumerate(result.steps, 1):
        steps.add_row(str(i), s.name, s.detail, (s.tx_hash or "")[:18])
    console.print(steps)
    summary = Table(title="Summary", show_header=False)
    summary.add_row(
        "Batch", f"#{result.batch_id}: issued {result.issued} t, buffer {result.buffer} t"
    )
    for seat, bal in result.balances.items():
        summary.add_row(f"Balance {seat}", f"{bal} t")
    summary.add_row("Retirements", ", ".join(f"#{r}" for r in result.retirement_ids))
    summary.add_row("Certificate", result.certificate_url)
    summary.add_row("Order fulfilled", result.fulfilment_url)
    summary.add_row("Verify", f"{result.verify_url} → {'valid' if result.verified else 'INVALID'}")
    console.print(summary)
    return result.verified


def _wait_for_index(http: httpx.Client, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.get("/health")
        if r.status_code == 200 and r.json().get("index_lag", 1) == 0:
            return
        time.sleep(0.2)


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show the data directory, deployment record, index and whether the API answers."""
    settings = Settings.at(data_dir)
    t = Table(title="Tanhui status", show_header=False)
    t.add_row("Data directory", str(settings.data_dir))
    from tanhui.ownership import ROLES, DataDirLock

    for role, who in ROLES.items():
        pid = DataDirLock(settings.data_dir, role).running()
        if pid is not None:
            t.add_row("Running", f"{who} (pid {pid})")
    t.add_row(
        "Chain",
        settings.rpc_url
        or "embedded anvil"
        + (
            " (state saved)"
            if any((settings.data_dir / name).exists()
                   for name in ("anvil-state.json.gz", "anvil-state.json"))
            else " (no state yet)"
        ),
    )
    records = (
        sorted(settings.data_dir.glob("deployment-*.json")) if settings.data_dir.exists() else []
    )
    for rec in records:
        raw = json.loads(rec.read_text())
        t.add_row("Deployment", f"chain {raw['chain_id']}, block {raw['block']}")
        for name, c in raw["contracts"].items():
            t.add_row(f"  {name}", c["address"])
    if not records:
        t.add_row("Deployment", "none (run `tanhui up`)")
    t.add_row("Database", settings.db_url)
    try:
        h = httpx.get(settings.base_url + "/health", timeout=2).json()
        t.add_row("API", f"{settings.base_url} up: {h}")
    except httpx.HTTPError:
        t.add_row("API", f"{settings.base_url} not answering")
    console.print(t)


@app.command()
def deploy(
    data_dir: DataDir = None,
    fresh: Annotated[
        bool, typer.Option(help="Deploy new contracts even if a record exists.")
    ] = False,
) -> None:
    """Deploy the contracts (or check the existing deployment record against the chain)."""
    rt = _start_runtime(Settings.at(data_dir), fresh=fresh)
    try:
        console.print_json(json.dumps(rt.deployment.to_json()))
    finally:
        rt.stop()


if __name__ == "__main__":
    app()
