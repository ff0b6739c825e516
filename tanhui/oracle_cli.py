"""`tanhui oracle`: put monitoring data into the inbox, attest as a node, prove a record.

Nodes connect to a running Tanhui (`tanhui up`, or TANHUI_RPC_URL with a deployment record in
the data directory); each node keeps its state in `<data dir>/oracle/<node>.db`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings
from oracle.node import NodeState, OracleNode

app = typer.Typer(help="Monitoring data, oracle nodes and Merkle proofs.", no_args_is_help=True)
console = Console()

DataDir = Annotated[str | None, typer.Option("--data-dir", help="Data directory.")]
Node = Annotated[str, typer.Option("--node", help="Development seat (oracle1..3) of this node.")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Data files (.csv/.json) of the period.")],
    project: Annotated[int, typer.Option(help="On-chain project id.")],
    start: Annotated[int, typer.Option(help="Period start, unix seconds.")],
    end: Annotated[int, typer.Option(help="Period end (exclusive), unix seconds.")],
    spec: Annotated[Path | None, typer.Option(help="project.json to install first.")] = None,
    devices: Annotated[Path | None, typer.Option(help="devices.json to install first.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Validate data files and put them into the oracle inbox for the nodes. Prints per-file
    counts and the first rejections with their reasons; nothing is attested here. The same
    door as the API (oracle/inbox.py): files are written whole, an attested period is final,
    and a device of another project or a reading counted elsewhere is refused (every tonne
    counted once)."""
    from core.db import make_engine, migrate, session_factory
    from oracle.devices import DeviceRegistry
    from oracle.inbox import Inbox, InboxError, checked_period
    from oracle.report import ReportError
    from tanhui.services import connect

    settings = Settings.at(data_dir)
    try:
        conn = connect(settings)
    except RuntimeError as exc:
        raise _fail(str(exc)) from None
    inbox = Inbox(settings.oracle_inbox, conn.ledger)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        with session_factory(engine)() as session:
            try:
                period = checked_period(start, end)
                if spec is not None or devices is not None:
                    inbox.install(session, project,
                                  json.loads(spec.read_text()) if spec is not None else None,
                                  DeviceRegistry.load(devices) if devices is not None else None)
            except (InboxError, ReportError, ValueError, OSError) as exc:
                raise _fail(str(exc)) from None
            now = int(conn.chain.w3.eth.get_block("latest")["timestamp"])
            table = Table(title=f"Project {project}, period {start}–{end}")
            for col in ("file", "kind", "records", "accepted", "rejected", "reasons"):
                table.add_column(col)
            for path in files:
                try:
                    stored = inbox.submit(session, project, period, path.name,
                                          path.read_bytes(), now)
                except InboxError as exc:
                    raise _fail(f"{path}: {exc}; nothing of it was stored") from None
                except OSError as exc:
                    raise _fail(f"{path}: {exc}") from None
                result = stored.result
                reasons = ", ".join(f"{k} {v}" for k, v in result.reason_counts().items())
                table.add_row(path.name, stored.kind, str(result.total),
                              str(len(result.accepted)), str(len(result.rejected)), reasons)
    finally:
        engine.dispose()
    console.print(table)


@app.command()
def attest(node: Node, data_dir: DataDir = None,
           project: Annotated[int | None, typer.Option(help="Only this project.")] = None) -> None:
    """One pass as an oracle node: attest every complete period and disturbance in the inbox
    that this node has not attested yet (safe to repeat)."""
    outcomes = _node(Settings.at(data_dir), node)
    done = outcomes.run_project(project) if project is not None else outcomes.run_once()
    table = Table(title=f"Oracle node {node}")
    for col in ("subject", "status", "on-chain id", "tx", "detail"):
        table.add_column(col)
    for o in done:
        table.add_row(o.subject, o.status, str(o.onchain_id or ""), o.tx_hash[:18], o.detail[:60])
    console.print(table)
    if any(o.status == "failed" for o in done):
        raise typer.Exit(1)


@app.command()
def run(node: Node, data_dir: DataDir = None,
        interval: Annotated[float | None, typer.Option(help="Seconds between passes.")] = None,
        stop_after: Annotated[float | None, typer.Option(help="Stop after N seconds.")] = None,
        ) -> None:
    """Run as an oracle node under APScheduler until interrupted: a job per project."""

    from core.logs import configure_logging
    from oracle.node import schedule

    configure_logging("oracle")
    settings = Settings.at(data_dir)
    n = _node(settings, node)
    console.print(f"Oracle node {node} ({n.account.address}) watching {n.inbox}")
    schedule(n, interval or settings.oracle_interval_seconds, stop_after=stop_after)


@app.command()
def prove(report: Annotated[int, typer.Option(help="Report id on chain.")],
          file: Annotated[str, typer.Option(help="Data file name in the period.")],
          position: Annotated[int, typer.Option(help="0-based row in the file.")],
          data_dir: DataDir = None) -> None:
    """Print the Merkle proof of one accepted record and whether the contract accepts it."""
    from oracle.inbox import Inbox, InboxError
    from tanhui.services import connect

    settings = Settings.at(data_dir)
    conn = connect(settings)
    now = int(conn.chain.w3.eth.get_block("latest")["timestamp"])
    try:
        proof = Inbox(settings.oracle_inbox, conn.ledger).prove(report, file, position, now)
    except InboxError as exc:
        raise _fail(str(exc)) from None
    ok = conn.ledger.verify_record(report, proof.record, list(proof.proof))
    console.print_json(json.dumps({**proof.to_json(), "report_id": report,
                                   "attested_root": proof.to_json()["root"],
                                   "verified_on_chain": ok}, ensure_ascii=False))
    if not ok:
        raise typer.Exit(1)


def _node(settings: Settings, seat: str) -> OracleNode:
    from tanhui.services import connect, oracle_account

    try:
        conn = connect(settings)
        account = oracle_account(settings, seat)
    except RuntimeError as exc:
        raise _fail(str(exc)) from None
    state = NodeState(settings.data_dir / "oracle" / f"{seat}.db")
    return OracleNode(seat, account, conn.ledger, settings.oracle_inbox, state)
