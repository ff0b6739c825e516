"""`tanhui exchange run`: the exchange as its own process (order entry, matching, settlement).

It connects to a running Tanhui (`tanhui up`, or TANHUI_RPC_URL with a deployment record) and
serves the whole API plus the exchange routes on its own port. Its journal lives in
`<data dir>/exchange/`; killing the process loses nothing it acknowledged, and a restart
replays the journal.
"""

from __future__ import annotations

import signal
from typing import Annotated

import typer
from rich.console import Console

from tanhui.config import Settings

app = typer.Typer(help="The exchange: order entry, matching, settlement.", no_args_is_help=True)
console = Console()


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the exchange API.")] = 8100,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Data directory.")] = None,
    settle_interval: Annotated[float, typer.Option(help="Seconds between settlements.")] = 0.5,
) -> None:
    """Serve the exchange until interrupted (SIGTERM or Ctrl-C)."""
    from pathlib import Path

    import uvicorn

    from api.app import create_app
    from api.limits import server_limits
    from exchange.journal import JournalInUse
    from exchange.runtime import open_exchange
    from tanhui.db import make_engine, migrate
    from tanhui.services import connect, exchange_account

    settings = Settings()
    if data_dir:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    try:
        conn = connect(settings)
        settler = exchange_account(settings)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        ex = open_exchange(conn.ledger, settings.data_dir / "exchange", settler)
    except JournalInUse as exc:  # `tanhui up` runs the exchange already (or another one)
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    ex.start_worker(settle_interval)
    config = uvicorn.Config(create_app(settings, conn.ledger, engine, ex.service),
                            host=settings.api_host, port=port, log_level="warning",
                            **server_limits())
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    console.print(f"Exchange at http://{settings.api_host}:{port} "
                  f"(journal {settings.data_dir / 'exchange'}, settling as {settler.address})")
    try:
        server.run()
    finally:
        ex.stop()
        engine.dispose()
