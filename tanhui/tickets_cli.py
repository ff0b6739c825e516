"""`tanhui tickets` and `tanhui pledges`: forest carbon tickets and the pledge register from a
terminal, through the API.

Each command is one API call made with the caller's API key (`--key` or `TANHUI_API_KEY`)
against a running Tanhui (`--api`, default the configured public URL), so the terminal gets
exactly the checks, codes and idempotency the HTTP API gives (writes send a fresh
Idempotency-Key). Amounts are decimal strings of tonnes; loan amounts of yuan; a maturity is
a date (YYYY-MM-DD, 00:00 China time), an ISO date-time with offset, or unix seconds.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings

tickets_app = typer.Typer(help="Forest carbon tickets (林业碳票): issue, split, merge, "
                          "transfer, retire, show, list a parcel's.", no_args_is_help=True)
pledges_app = typer.Typer(help="The pledge register (质押): pledge, release, foreclose, list.",
                          no_args_is_help=True)
console = Console()

ApiOpt = Annotated[str | None, typer.Option("--api", help="API base URL.")]
KeyOpt = Annotated[str | None, typer.Option("--key", envvar="TANHUI_API_KEY",
                                            help="API key (or TANHUI_API_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]
TicketArg = Annotated[int, typer.Argument(min=1, help="Ticket id.")]
PledgeArg = Annotated[int, typer.Argument(min=1, help="Pledge id.")]


def _call(api: str | None, key: str | None, method: str, path: str,
          body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
          idempotent: bool = False) -> Any:
    base = api or Settings.at(None).base_url
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if idempotent:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        try:
            r = http.request(method, path, json=body, params=params)
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
    return r.json()


def _out(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False))


# -- tickets ---------------------------------------------------------------------------------


@tickets_app.command()
def issue(report: Annotated[int, typer.Option("--report", min=1, help="Verified report id.")],
          certificate: Annotated[str, typer.Option("--certificate",
                                                   help="Forest-right certificate (林权证号).")],
          api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Issue the ticket of a verified forest report (forestry authority)."""
    _out(_call(api, key, "POST", "/v1/tickets",
               {"report_id": report, "rights_certificate": certificate}, idempotent=True))


@tickets_app.command()
def split(ticket: TicketArg, amount: Annotated[str, typer.Option(help="Tonnes to split off.")],
          api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Split tonnes off a ticket into a new ticket."""
    _out(_call(api, key, "POST", f"/v1/tickets/{ticket}/split", {"amount": amount},
               idempotent=True))


@tickets_app.command()
def merge(ticket: TicketArg,
          into: Annotated[int, typer.Option(min=1, help="Ticket that receives the value.")],
          api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Merge a ticket into another of the same slot (it is burnt)."""
    _out(_call(api, key, "POST", f"/v1/tickets/{ticket}/merge", {"into": into},
               idempotent=True))


@tickets_app.command()
def transfer(ticket: TicketArg, to: Annotated[str, typer.Option(help="Recipient account.")],
             amount: Annotated[str | None, typer.Option(
                 help="Tonnes (omit: the whole ticket, keeping its id).")] = None,
             api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Transfer tonnes of a ticket (or the whole ticket) to another member."""
    body: dict[str, Any] = {"to": to}
    if amount is not None:
        body["amount"] = amount
    _out(_call(api, key, "POST", f"/v1/tickets/{ticket}/transfer", body, idempotent=True))


@tickets_app.command()
def retire(ticket: TicketArg, amount: Annotated[str, typer.Option(help="Tonnes to retire.")],
           beneficiary: Annotated[str, typer.Option(help="On whose behalf.")],
           purpose: Annotated[str, typer.Option(help="voluntary, compliance, "
                                                "ecological_compensation, carbon_inclusive")]
           = "voluntary",
           case: Annotated[str, typer.Option("--case", help="Case reference.")] = "",
           api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Retire (抵消) tonnes of a ticket for a beneficiary."""
    body = {"amount": amount, "beneficiary": beneficiary, "purpose": purpose,
            "case_reference": case}
    _out(_call(api, key, "POST", f"/v1/tickets/{ticket}/retire", body, idempotent=True))


@tickets_app.command()
def show(ticket: TicketArg, api: ApiOpt = None) -> None:
    """A ticket, its slot (parcel and period) and every lien on it (from the chain)."""
    _out(_call(api, None, "GET", f"/v1/tickets/{ticket}"))


@tickets_app.command()
def parcel(project: Annotated[int, typer.Argument(min=1, help="Parcel (project) id.")],
           api: ApiOpt = None, as_json: JsonOpt = False) -> None:
    """A parcel's tickets, period by period (from the index)."""
    data = _call(api, None, "GET", f"/v1/parcels/{project}/tickets")
    if as_json:
        _out(data)
        return
    t = Table("slot", "period", "issued t", "retired t", "pledged t", "ticket", "owner",
              "value t")
    for s in data["slots"]:
        period = f"{s['period_start']}–{s['period_end']}"
        rows = s["tickets"] or [{"id": "", "owner": "", "value": "", "in_escrow": False}]
        for i, x in enumerate(rows):
            head = (str(s["slot"]), period, s["issued"], s["retired"], s["pledged"]) if i == 0 \
                else ("", "", "", "", "")
            owner = x["owner"] + (" (escrow)" if x["in_escrow"] else "")
            t.add_row(*head, str(x["id"]), owner, x["value"])
    console.print(t)


# -- pledges ---------------------------------------------------------------------------------


def _maturity(value: str) -> int | str:
    return int(value) if value.isdigit() else value


@pledges_app.command()
def pledge(bank: Annotated[str, typer.Option(help="The lending bank's account.")],
           amount: Annotated[str, typer.Option(help="Tonnes pledged.")],
           loan: Annotated[str, typer.Option(help="Loan contract reference (text).")],
           yuan: Annotated[str, typer.Option(help="Loan amount in yuan.")],
           maturity: Annotated[str, typer.Option(help="YYYY-MM-DD, ISO date-time or unix.")],
           ticket: Annotated[int | None, typer.Option(min=1, help="Ticket id.")] = None,
           batch: Annotated[int | None, typer.Option(min=1, help="Credit batch id.")] = None,
           api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Pledge ticket value (--ticket) or credits (--batch) to a bank for a loan."""
    if (ticket is None) == (batch is None):
        raise typer.BadParameter("give exactly one of --ticket and --batch")
    body: dict[str, Any] = {
        "asset": "ticket" if ticket is not None else "credit", "amount": amount,
        "bank": bank, "loan_reference": loan, "loan_amount_yuan": yuan,
        "maturity": _maturity(maturity)}
    body["token_id" if ticket is not None else "batch_id"] = ticket or batch
    _out(_call(api, key, "POST", "/v1/pledges", body, idempotent=True))


@pledges_app.command()
def release(pledge_id: PledgeArg, api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Release a pledge on repayment (the pledge's bank)."""
    _out(_call(api, key, "POST", f"/v1/pledges/{pledge_id}/release", idempotent=True))


@pledges_app.command()
def foreclose(pledge_id: PledgeArg, api: ApiOpt = None, key: KeyOpt = None) -> None:
    """Foreclose a matured pledge on default (the pledge's bank)."""
    _out(_call(api, key, "POST", f"/v1/pledges/{pledge_id}/foreclose", idempotent=True))


@pledges_app.command("list")
def list_pledges(bank: Annotated[str | None, typer.Option(help="A bank's liens.")] = None,
                 pledgor: Annotated[str | None, typer.Option(help="A pledgor's.")] = None,
                 slot: Annotated[int | None, typer.Option(help="Liens on a ticket slot.")]
                 = None,
                 batch: Annotated[int | None, typer.Option(help="Liens on a batch.")] = None,
                 api: ApiOpt = None, as_json: JsonOpt = False) -> None:
    """The pledge register, by bank, pledgor, ticket slot or credit batch (from the chain)."""
    params = {k: v for k, v in (("bank", bank), ("pledgor", pledgor), ("ticket_slot", slot),
                                ("batch_id", batch)) if v is not None}
    data = _call(api, None, "GET", "/v1/pledges", params=params)
    if as_json:
        _out(data)
        return
    t = Table("id", "status", "asset", "asset id", "value t", "pledgor", "bank", "fen",
              "maturity")
    for p in data:
        t.add_row(str(p["id"]), p["status"], p["asset"], str(p["asset_id"]), p["value"],
                  p["pledgor"], p["bank"], str(p["amount_fen"]), str(p["maturity"]))
    console.print(t)
