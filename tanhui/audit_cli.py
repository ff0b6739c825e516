"""`tanhui audit`: the chain-only auditor from a terminal.

Reads nothing but a chain node (`--rpc`, default the configured one) and a deployment record
(`--deployment`, default the data directory's), so an auditor can run it against any node of
the consortium without trusting Tanhui's database or API. `--db` adds the diff against an SQL
index. Exit status 0 when every check passes, 1 naming each broken invariant and object, 2 when
the chain or the record cannot be used."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.config import Settings

app = typer.Typer(help="Audit the registry from the chain alone: invariants, provenance, proofs.",
                  invoke_without_command=True)
console = Console()
err = Console(stderr=True)

RpcOpt = Annotated[str | None, typer.Option("--rpc", help="Chain JSON-RPC URL.")]
DeploymentOpt = Annotated[Path | None, typer.Option("--deployment", help="Deployment record.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: object) -> typer.Exit:
    err.print(f"[red]{message}[/red]", soft_wrap=True)
    return typer.Exit(2)


def _auditor(rpc: str | None, deployment: Path | None) -> Any:
    from chain.client import Chain
    from chain.compile import compile_contracts
    from chain.deploy import Deployment, error_abis
    from registry.audit import Auditor

    settings = Settings.at(None)
    url = rpc or settings.rpc_url
    if url is None:
        raise _fail("no chain: give --rpc URL (or set TANHUI_RPC_URL)")
    artifacts = compile_contracts()
    chain = Chain(url, error_abis(artifacts))
    try:
        chain_id = chain.chain_id
    except Exception as exc:
        raise _fail(f"cannot reach the chain at {url}: {exc}") from None
    path = deployment or settings.data_dir / f"deployment-{chain_id}.json"
    if not path.exists():
        raise _fail(f"no deployment record at {path}: give --deployment FILE")
    try:
        record = Deployment.load(path, artifacts)
    except (KeyError, ValueError, TypeError) as exc:
        raise _fail(f"unreadable deployment record {path}: {exc}") from None
    if record.chain_id != chain_id:
        raise _fail(f"the record {path} is for chain {record.chain_id}, the node is {chain_id}")
    return Auditor(chain, record)


def _with_progress(auditor: Any, quiet: bool) -> None:
    """Scans the chain with a progress bar on stderr (none with --json to a pipe)."""
    with Progress(TextColumn("scanning the chain"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} blocks"), TimeElapsedColumn(), console=err,
                  disable=quiet or not err.is_terminal, transient=True) as bar:
        task = bar.add_task("scan", total=None)
        auditor.load(lambda done, total: bar.update(task, completed=done, total=total))


def _print_report(report: Any) -> None:
    table = Table(title=f"Audit at block {report.head}: {report.events} events")
    table.add_column("check")
    table.add_column("result")
    table.add_column("failures", justify="right")
    for name, found in report.checks.items():
        table.add_row(name, "[green]pass[/green]" if not found else "[red]FAIL[/red]",
                      str(len(found)))
    if report.index_diff is not None:
        bad = len(report.index_diff["tables"])
        table.add_row("index_diff", "[green]pass[/green]" if report.index_diff["clean"]
                      else "[red]FAIL[/red]", str(bad))
    console.print(table)
    counts = Table(title="What the chain holds")
    for k in report.counts:
        counts.add_column(k, justify="right")
    counts.add_row(*(str(v) for v in report.counts.values()))
    console.print(counts)
    if report.index_diff and not report.index_diff["clean"]:
        diff = Table(title=f"Chain vs SQL index (to block {report.index_diff['indexed_to']})")
        for col in ("table", "missing", "extra", "different"):
            diff.add_column(col)
        for t in report.index_diff["tables"]:
            diff.add_row(t["table"], str(t["missing"]), str(t["extra"]), str(t["different"]))
        console.print(diff)


def _problems(report: Any) -> list[str]:
    lines = [x.line() for x in report.failures]
    if report.index_diff is not None and not report.index_diff["clean"]:
        for t in report.index_diff["tables"] or [{"table": "index", "missing": 0, "extra": 0,
                                                 "different": 0}]:
            lines.append(f"index_diff failed for table {t['table']}: {t['missing']} missing, "
                         f"{t['extra']} extra, {t['different']} different rows")
        if "message" in report.index_diff:
            lines.append(f"index_diff failed: {report.index_diff['message']}")
    return lines


@app.callback()
def audit(ctx: typer.Context, rpc: RpcOpt = None, deployment: DeploymentOpt = None,
          as_json: JsonOpt = False,
          db: Annotated[str | None, typer.Option("--db", help="SQL index URL to diff.")] = None,
          ) -> None:
    """Run every invariant over the whole chain (and, with --db, diff the SQL index)."""
    ctx.obj = {"rpc": rpc, "deployment": deployment}
    if ctx.invoked_subcommand is not None:
        return
    auditor = _auditor(rpc, deployment)
    _with_progress(auditor, as_json)
    report = auditor.audit(db_url=db)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, default=str))
    else:
        _print_report(report)
    problems = _problems(report)
    for line in problems:
        err.print(f"[red]{line}[/red]", soft_wrap=True)
    raise typer.Exit(1 if problems else 0)


def _opts(ctx: typer.Context, rpc: str | None, deployment: Path | None) -> Any:
    parent = ctx.obj or {}
    return _auditor(rpc or parent.get("rpc"), deployment or parent.get("deployment"))


@app.command("provenance")
def provenance_cmd(ctx: typer.Context,
                   kind: Annotated[str, typer.Argument(
                       help="batch|retirement|ticket|pledge|order")],
                   ident: Annotated[int, typer.Argument(help="The object's id.", min=1)],
                   rpc: RpcOpt = None, deployment: DeploymentOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Trace an object back to its methodology, as the chain tells it."""
    from registry.audit.provenance import KINDS, UnknownObject

    if kind not in KINDS:
        raise _fail(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    auditor = _opts(ctx, rpc, deployment)
    _with_progress(auditor, as_json)
    try:
        found = auditor.provenance(kind, ident)
    except UnknownObject as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(found, ensure_ascii=False, default=str))
        return
    steps = found.get("steps") or (found.get("asset") or {}).get("steps") or []
    table = Table(title=f"Provenance of {kind} {ident}")
    for col in ("step", "block", "what"):
        table.add_column(col)
    for s in steps:
        what = {k: v for k, v in s.items() if k not in ("step", "block", "tx", "log_index")}
        table.add_row(str(s["step"]), str(s["block"]),
                      json.dumps(what, ensure_ascii=False, default=str)[:200])
    console.print(table)
    rest = {k: v for k, v in found.items() if k not in ("steps", "asset")}
    console.print_json(json.dumps(rest, ensure_ascii=False, default=str))


def _hexes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or not all(
            isinstance(v, str) and v.startswith("0x") for v in values):
        raise _fail("the proof must be a list of 0x-hex hashes")
    return [bytes.fromhex(v[2:]) for v in values]


@app.command("prove-record")
def prove_record(ctx: typer.Context,
                 report_id: Annotated[int, typer.Argument(help="Monitoring report id.", min=1)],
                 record_file: Annotated[Path | None, typer.Argument(
                     help="A record proof file (as `tanhui oracle prove` writes it).")] = None,
                 record: Annotated[str | None, typer.Option(
                     "--record", help="The record proof as JSON.")] = None,
                 rpc: RpcOpt = None, deployment: DeploymentOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Check that a monitoring record belongs to the report's attested Merkle root."""
    from registry.audit.provenance import UnknownObject

    if (record_file is None) == (record is None):
        raise _fail("give RECORD_FILE or --record JSON (one of them)")
    text = record if record is not None else record_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail(f"the record proof is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("record"), str):
        raise _fail("the record proof needs a `record` string and a `proof` list")
    proof = _hexes(data.get("proof"))
    auditor = _opts(ctx, rpc, deployment)
    try:
        result = auditor.prove_record(report_id, data["record"].encode("utf-8"), proof)
    except UnknownObject as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        table = Table(title=f"Record proof against report {report_id}")
        table.add_column("field")
        table.add_column("value")
        for k, v in result.items():
            table.add_row(k, str(v))
        console.print(table)
    if not result["verified"]:
        err.print(f"[red]record_proof failed for report {report_id}: the record is not "
                  "committed to by the attested root[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":
    app(prog_name=sys.argv[0])
