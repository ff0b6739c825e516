"""`tanhui compensation`: ecological-compensation orders from a terminal, through the API.

Each command is one API call made with the caller's API key (`--key` or `TANHUI_API_KEY`)
against a running Tanhui (`--api`, default the configured public URL), so the terminal gets
exactly the checks, codes and idempotency the HTTP API gives. Amounts are decimal strings
(tonnes, or yuan for `--cny`); dates are China-time calendar dates.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings

app = typer.Typer(help="Ecological-compensation orders: register, buy and retire, certify.",
                  no_args_is_help=True)
console = Console()
CST = timezone(timedelta(hours=8))

ApiOpt = Annotated[str | None, typer.Option("--api", help="API base URL.")]
KeyOpt = Annotated[str | None, typer.Option("--key", envvar="TANHUI_API_KEY",
                                            help="API key (or TANHUI_API_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]


def _client(api: str | None, key: str | None) -> httpx.Client:
    base = api or Settings.at(None).base_url
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base, headers=headers, timeout=120)


def _call(api: str | None, key: str | None, method: str, path: str,
          body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
          idempotent: bool = False) -> Any:
    headers = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}
    with _client(api, key) as http:
        try:
            r = http.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            console.print(f"[red]cannot reach the API: {exc}[/red]")
            raise typer.Exit(2) from None
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            console.print(f"[red]{r.status_code} {err['code']}: {err['message']}[/red]",
                          soft_wrap=True)
            if err.get("details"):
                console.print(json.dumps(err["details"], ensure_ascii=False), soft_wrap=True)
        except (ValueError, KeyError):
            console.print(f"[red]{r.status_code}: {r.text[:500]}[/red]")
        raise typer.Exit(1)
    return r.json() if r.headers.get("content-type", "").startswith("application/json") \
        else r.content


def _deadline(value: str) -> int:
    """`2026-12-31` -> the end of that day, China time, as unix seconds."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=CST)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD") from None
    return int((day + timedelta(days=1)).timestamp()) - 1


def _print_orders(orders: list[dict[str, Any]]) -> None:
    t = Table("id", "case", "status", "required", "fulfilled", "remaining", "deadline")
    for o in orders:
        unit = " yuan" if o["unit"] == "cny" else " t"
        deadline = datetime.fromtimestamp(o["deadline"], CST).strftime("%Y-%m-%d")
        t.add_row(str(o["id"]), o["case_number"], o["status"], o["required"] + unit,
                  o["fulfilled"] + unit, o["remaining"] + unit, deadline)
    console.print(t)


def _show(data: Any, as_json: bool) -> None:
    if as_json or not isinstance(data, dict) or "case_number" not in data:
        console.print_json(json.dumps(data, ensure_ascii=False))
        return
    _print_orders([data])


CategoryOpt = Annotated[list[str], typer.Option("--category", help="Sink category (repeat).")]
PartyNameOpt = Annotated[list[str], typer.Option("--party-name", help="Party name (repeat).")]
DeadlineOpt = Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (China time).")]
DocumentOpt = Annotated[str, typer.Option(help="Hash of the judgment (0x…).")]
TonnesOpt = Annotated[str | None, typer.Option(help="Required tonnes, e.g. 326.4.")]
CnyOpt = Annotated[str | None, typer.Option("--cny", help="Required amount in yuan.")]
RegionOpt = Annotated[list[str] | None, typer.Option(help="Division prefix (repeat).")]
PartyOpt = Annotated[list[str] | None, typer.Option(help="Party account (repeat).")]
PaysOpt = Annotated[bool, typer.Option(help="The authority pays.")]
YearOpt = Annotated[int | None, typer.Option(help="Vintage year (first or last).")]


def _terms(category: list[str], party_name: list[str], deadline: str, document_hash: str,
           tonnes: str | None, cny: str | None, region: list[str] | None,
           party: list[str] | None, authority_pays: bool, vintage_from: int | None,
           vintage_to: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "categories": category, "party_names": party_name, "deadline": _deadline(deadline),
        "document_hash": document_hash, "regions": region or [], "parties": party or [],
        "authority_pays": authority_pays,
    }
    optional = {"required_tonnes": tonnes, "required_cny": cny, "vintage_from": vintage_from,
                "vintage_to": vintage_to}
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


@app.command()
def create(
    case_number: Annotated[str, typer.Option("--case", help="Case number.")],
    category: CategoryOpt, party_name: PartyNameOpt, deadline: DeadlineOpt,
    document_hash: DocumentOpt, tonnes: TonnesOpt = None, cny: CnyOpt = None,
    region: RegionOpt = None, party: PartyOpt = None, authority_pays: PaysOpt = False,
    vintage_from: YearOpt = None, vintage_to: YearOpt = None,
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Register an order for a case (authority role)."""
    body = {"case_number": case_number,
            **_terms(category, party_name, deadline, document_hash, tonnes, cny, region, party,
                     authority_pays, vintage_from, vintage_to)}
    out = _call(api, key, "POST", "/v1/compensation/orders", body, idempotent=True)
    _show(out if as_json else out["order"], as_json)


@app.command()
def amend(
    order_id: Annotated[int, typer.Argument(min=1)],
    category: CategoryOpt, party_name: PartyNameOpt, deadline: DeadlineOpt,
    document_hash: DocumentOpt, tonnes: TonnesOpt = None, cny: CnyOpt = None,
    region: RegionOpt = None, party: PartyOpt = None, authority_pays: PaysOpt = False,
    vintage_from: YearOpt = None, vintage_to: YearOpt = None,
    reason_hash: Annotated[str, typer.Option(help="Hash of the decision.")] = "0x" + "00" * 32,
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Replace an open order's terms (its own authority only; same unit and case)."""
    body = {"reason_hash": reason_hash,
            **_terms(category, party_name, deadline, document_hash, tonnes, cny, region, party,
                     authority_pays, vintage_from, vintage_to)}
    out = _call(api, key, "POST", f"/v1/compensation/orders/{order_id}/amend", body)
    _show(out if as_json else out["order"], as_json)


@app.command()
def close(
    order_id: Annotated[int, typer.Argument(min=1)],
    reason_hash: Annotated[str, typer.Option(help="Hash of the decision.")] = "0x" + "00" * 32,
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Close an open order (its own authority only)."""
    out = _call(api, key, "POST", f"/v1/compensation/orders/{order_id}/close",
                {"reason_hash": reason_hash})
    _show(out if as_json else out["order"], as_json)


@app.command()
def show(order_id: Annotated[int, typer.Argument(min=1)], api: ApiOpt = None,
         as_json: JsonOpt = False) -> None:
    """One order as the chain holds it."""
    _show(_call(api, None, "GET", f"/v1/compensation/orders/{order_id}"), as_json)


@app.command()
def case(number: Annotated[str, typer.Argument(help="Case number.")], api: ApiOpt = None,
         as_json: JsonOpt = False) -> None:
    """Look an order up by its case number."""
    _show(_call(api, None, "GET", "/v1/compensation/cases", params={"number": number}), as_json)


@app.command("mine")
def mine(api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """The orders you registered (authority) or are named in (party)."""
    page = _call(api, key, "GET", "/v1/compensation/orders/mine")
    if as_json:
        console.print_json(json.dumps(page, ensure_ascii=False))
    else:
        _print_orders(page["items"])


@app.command()
def owed(api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """What you still owe: open, partly fulfilled and overdue orders naming you."""
    orders = _call(api, key, "GET", "/v1/compensation/owed")
    if as_json:
        console.print_json(json.dumps(orders, ensure_ascii=False))
    else:
        _print_orders(orders)


@app.command()
def timeline(order_id: Annotated[int, typer.Argument(min=1)], api: ApiOpt = None,
             as_json: JsonOpt = False) -> None:
    """Every step of an order in chain order."""
    steps = _call(api, None, "GET", f"/v1/compensation/orders/{order_id}/timeline")
    if as_json:
        console.print_json(json.dumps(steps, ensure_ascii=False))
        return
    t = Table("time (China)", "step", "tx")
    for s in steps:
        when = datetime.fromtimestamp(s["block_timestamp"], CST).strftime("%Y-%m-%d %H:%M")
        t.add_row(when, s["kind"], s["tx_hash"][:18] + "…")
    console.print(t)


@app.command()
def retire(
    order_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[str, typer.Option(help="Tonnes, e.g. 326.4.")],
    batch_id: Annotated[int | None, typer.Option("--batch", min=1,
                                                 help="Retire credits of this batch.")] = None,
    ticket: Annotated[int | None, typer.Option(
        "--ticket", min=1, help="Retire value of this forest carbon ticket instead.")] = None,
    beneficiary: Annotated[str, typer.Option(help="Shown on the certificate.")] = "",
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Retire credits (--batch) or forest-ticket value (--ticket) you hold for an order (a
    party, or the paying authority)."""
    if (batch_id is None) == (ticket is None):
        raise typer.BadParameter("give either --batch or --ticket")
    if ticket is not None:
        out = _call(api, key, "POST", f"/v1/compensation/orders/{order_id}/ticket-retirements",
                    {"token_id": ticket, "amount": amount, "beneficiary": beneficiary},
                    idempotent=True)
    else:
        out = _call(api, key, "POST", f"/v1/compensation/orders/{order_id}/retirements",
                    {"batch_id": batch_id, "amount": amount, "beneficiary": beneficiary},
                    idempotent=True)
    _counted(out, as_json)


@app.command()
def offer(
    order_id: Annotated[int, typer.Argument(min=1)],
    batch_id: Annotated[int, typer.Option("--batch", min=1)],
    amount: Annotated[str, typer.Option(help="Tonnes offered.")],
    price: Annotated[int, typer.Option(help="Fen per tonne (10000 = 100 yuan/t).", min=1)],
    days: Annotated[int, typer.Option(help="Days the offer stands.", min=1)] = 30,
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Offer credits to an order at a fixed price (a seller)."""
    expiry = int(datetime.now(CST).timestamp()) + days * 86_400
    out = _call(api, key, "POST", f"/v1/compensation/orders/{order_id}/offers",
                {"batch_id": batch_id, "amount": amount, "price_fen_per_tonne": price,
                 "expiry": expiry})
    console.print_json(json.dumps(out, ensure_ascii=False)) if as_json else \
        console.print(f"offer {out['offer']['id']}: {out['offer']['amount']} t at "
                      f"{price / 100:.2f} yuan/t")


@app.command()
def take(
    offer_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[str, typer.Option(help="Tonnes to buy and retire.")],
    beneficiary: Annotated[str, typer.Option(help="Shown on the certificate.")] = "",
    api: ApiOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Buy from an offer and retire for its order in one transaction."""
    out = _call(api, key, "POST", f"/v1/compensation/offers/{offer_id}/take",
                {"amount": amount, "beneficiary": beneficiary}, idempotent=True)
    _counted(out, as_json)


def _counted(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(out, ensure_ascii=False))
        return
    o = out["order"]
    kind = "forest ticket retirement" if out.get("asset") == "ticket" else "retirement"
    console.print(f"{kind} {out['retirement_id']} ({out['serial_range']}) counted "
                  f"{out['value']} toward order {o['id']} {o['case_number']}: "
                  f"{o['fulfilled']} of {o['required']}, {o['status']}")
    console.print(f"certificate: {out['certificate_url']}")


@app.command()
def certificate(
    order_id: Annotated[int, typer.Argument(min=1)],
    out: Annotated[Path, typer.Option("--out", help="File to write (.pdf or .html).")],
    api: ApiOpt = None,
) -> None:
    """Download an order's fulfilment certificate as one-page A4 PDF or HTML."""
    suffix = "certificate.pdf" if out.suffix.lower() == ".pdf" else "certificate"
    data = _call(api, None, "GET", f"/v1/compensation/orders/{order_id}/{suffix}")
    out.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    console.print(f"wrote {out} ({out.stat().st_size:,} bytes)")

