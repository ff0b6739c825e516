"""`tanhui exchange run`: the exchange as its own process (order entry, matching, settlement).

It connects to a running Tanhui (`tanhui up`, or TANHUI_RPC_URL with a deployment record) and
serves the whole API plus the exchange routes on its own port. Its journal lives in
`<data dir>/exchange/`; killing the process loses nothing it acknowledged, and a restart
replays the journal. It holds the data directory's `exchange` lock (tanhui.ownership) while it
runs: next to `tanhui up --no-exchange`, never next to a `tanhui up` that runs the exchange
itself or another `tanhui exchange run`.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.config import Settings

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from tanhui.services import Connection

app = typer.Typer(help="The exchange: order entry, matching, settlement.", no_args_is_help=True)
console = Console()


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the exchange API.")] = 8100,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Data directory.")] = None,
    settle_interval: Annotated[float, typer.Option(help="Seconds between settlements.")] = 0.5,
) -> None:
    """Serve the exchange until interrupted (SIGTERM or Ctrl-C)."""
    from api.custody import CustodyError, load_master_key
    from exchange.journal import JournalInUse
    from tanhui.ownership import DataDirInUse, DataDirLock
    from tanhui.services import connect, exchange_account

    settings = Settings.at(data_dir)
    try:
        settler = exchange_account(settings)
        load_master_key(settings)  # an external chain needs one configured
        conn = connect(settings)
        lock = DataDirLock(settings.data_dir, "exchange").acquire()
    except (RuntimeError, CustodyError, DataDirInUse) as exc:
        # DataDirInUse: `tanhui up` runs the exchange already (or another exchange does)
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        _serve(settings, conn, settler, port, settle_interval)
    except JournalInUse as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        lock.release()


def _serve(settings: Settings, conn: Connection, settler: LocalAccount, port: int,
           settle_interval: float) -> None:
    import uvicorn

    from api.app import create_app
    from api.limits import server_limits
    from core.db import make_engine, migrate
    from core.logs import configure_logging
    from exchange.reservations import SharedReservations
    from exchange.runtime import open_exchange
    from tanhui.ownership import secure_tree
    from tanhui.services import relayer_of

    configure_logging("exchange")
    secure_tree(settings.data_dir)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    # the API of `tanhui up --no-exchange` reads the reservations from the shared database
    ex = open_exchange(conn.ledger, settings.data_dir / "exchange", settler,
                       shared=SharedReservations(engine))
    ex.start_worker(settle_interval)
    config = uvicorn.Config(create_app(settings, conn.ledger, engine, ex.service,
                                       relayer=relayer_of(settings)),
                            host=settings.api_host, port=port, log_level="warning",
                            access_log=False, log_config=None, **server_limits())
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    console.print(f"Exchange at http://{settings.api_host}:{port} "
                  f"(journal {settings.data_dir / 'exchange'}, settling as {settler.address})")
    try:
        server.run()
    finally:
        ex.stop()
        engine.dispose()


@app.command("fail-trade")
def fail_trade_command(
    trade_id: Annotated[int, typer.Argument(help="The pending trade to fail.", min=1)],
    reason: Annotated[str, typer.Option("--reason", help="Why it must not settle.")],
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Data directory.")] = None,
) -> None:
    """Fail a stuck trade with a reason (the exchange must be stopped; while it runs, use
    POST /v1/exchange/trades/{id}/fail). Refused if the chain has settled it."""
    from exchange.errors import ExchangeError
    from exchange.operator import fail_trade
    from exchange.runtime import open_exchange
    from tanhui.ownership import DataDirInUse, DataDirLock
    from tanhui.services import connect, exchange_account

    settings = Settings.at(data_dir)
    try:
        settler = exchange_account(settings)
        conn = connect(settings)
        lock = DataDirLock(settings.data_dir, "exchange").acquire()
    except DataDirInUse:
        console.print("[red]the exchange is running: fail the trade through its API, POST "
                      f"/v1/exchange/trades/{trade_id}/fail[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    from core.db import make_engine, migrate
    from exchange.reservations import SharedReservations

    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        ex = open_exchange(conn.ledger, settings.data_dir / "exchange", settler,
                           shared=SharedReservations(engine))
        try:
            view = fail_trade(ex.service, ex.chain, trade_id, reason)
        except ExchangeError as exc:
            console.print(f"[red]{exc.code}: {exc.message}[/red]", soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            ex.stop()
    finally:
        engine.dispose()
        lock.release()
    console.print(f"trade {trade_id} failed: {view['reason']}")
