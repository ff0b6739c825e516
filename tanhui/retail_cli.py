"""`tanhui retail`: the carbon supermarket (碳汇超市) counter from a terminal, through the API.

A retail operator seat stocks its shelf, sells to a person who has no chain account (retired at
once for them; the answer carries the certificate URL to hand over), withdraws unsold stock, and
looks up what it sold under a receipt. Each command is one API call with the seat's API key
(`--key` or `TANHUI_API_KEY`) against a running Tanhui (`--api`), so the terminal gets the
HTTP API's checks and codes; a sale carries a fresh `Idempotency-Key`, so the API never
retires it twice. Amounts are tonnes as decimal strings (`0.001` is one kilogram); prices yuan.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings

app = typer.Typer(help="Carbon supermarket: stock a retail shelf, sell and retire for buyers.",
                  no_args_is_help=True)
console = Console()

ApiOpt = Annotated[str | None, typer.Option("--api", help="API base URL.")]
KeyOpt = Annotated[str | None, typer.Option("--key", envvar="TANHUI_API_KEY",
                                            help="API key (or TANHUI_API_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]
TicketOpt = Annotated[int | None, typer.Option("--ticket", min=1, help="Ticket id.")]
BatchOpt = Annotated[int | None, typer.Option("--batch", min=1, help="Credit batch id.")]
AmountOpt = Annotated[str, typer.Option("--amount", help="Tonnes, e.g. 0.5 or 0.001.")]


def _call(api: str | None, key: str | None, method: str, path: str,
          body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
          idempotent: bool = False) -> Any:
    """One API call; a refusal prints its code and message and exits 1 (2: no API)."""
    headers = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    base = api or Settings.at(None).base_url
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            r = http.request(method, path, json=body, params=params, headers=headers)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the API: {exc}[/red]")
        raise typer.Exit(2) from None
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            console.print(f"[red]{r.status_code} {err['code']}: {err['message']}[/red]",
                          soft_wrap=True)
        except (ValueError, KeyError):
            console.print(f"[red]{r.status_code}: {r.text[:500]}[/red]")
        raise typer.Exit(1)
    return r.json()


def _asset(ticket: int | None, batch: int | None) -> dict[str, Any]:
    if (ticket is None) == (batch is None):
        raise typer.BadParameter("give exactly one of --ticket and --batch")
    kind: Literal["ticket", "credit"] = "ticket" if ticket is not None else "credit"
    return {"asset": kind, "token_id": ticket} if ticket is not None else \
        {"asset": kind, "batch_id": batch}


def _print(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False))


@app.command()
def stock(ticket: TicketOpt = None, batch: BatchOpt = None, amount: AmountOpt = "0",
          api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Put ticket value or credits on the seat's shelf (retail seat)."""
    _print(_call(api, key, "POST", "/v1/retail/stock", {**_asset(ticket, batch),
                                                        "amount": amount}))


@app.command()
def sell(
    beneficiary: Annotated[str, typer.Option(help="The buyer, as on the certificate.")],
    receipt: Annotated[str, typer.Option(help="The shop's receipt / buyer reference.")],
    price: Annotated[str, typer.Option(help="What the buyer paid, yuan (e.g. 7.50).")],
    ticket: TicketOpt = None, batch: BatchOpt = None, amount: AmountOpt = "0",
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Sell from the shelf and retire it at once for the buyer (retail seat)."""
    out = _call(api, key, "POST", "/v1/retail/sales",
                {**_asset(ticket, batch), "amount": amount, "beneficiary": beneficiary,
                 "buyer_reference": receipt, "price_yuan": price}, idempotent=True)
    if as_json:
        _print(out)
        return
    console.print(f"retired {out['amount']} t for {out['beneficiary']}: retirement "
                  f"{out['retirement_id']}, serials {out['serial_range']}", soft_wrap=True)
    console.print(f"certificate: {out['certificate_url']}", soft_wrap=True)


@app.command()
def withdraw(ticket: TicketOpt = None, batch: BatchOpt = None, amount: AmountOpt = "0",
             api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Take unsold stock back from the shelf (retail seat)."""
    _print(_call(api, key, "POST", "/v1/retail/withdraw", {**_asset(ticket, batch),
                                                           "amount": amount}))


@app.command()
def sales(
    seat: Annotated[str, typer.Option(help="The retail seat's account (0x…).")],
    receipt: Annotated[str | None, typer.Option(help="Only this buyer reference.")] = None,
    api: ApiOpt = None, as_json: JsonOpt = False,
) -> None:
    """A seat's retail sales, all or under one receipt, with totals (public)."""
    params = {"seat": seat, **({"buyer_reference": receipt} if receipt else {})}
    out = _call(api, None, "GET", "/v1/retail/sales", params=params)
    if as_json:
        _print(out)
        return
    t = Table("sale", "asset", "id", "tonnes", "fen", "retirement")
    for s in out["sales"]:
        t.add_row(str(s["sale_id"]), s["asset"], str(s["asset_id"]), s["amount"],
                  str(s["price_fen"]), str(s["retirement_id"]))
    console.print(t)
    console.print(f"total {out['total_amount']} t, {out['total_price_fen']} fen")
