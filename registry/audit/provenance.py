"""Where an object came from, as the chain alone tells it: methodology → project → monitoring
report (root, the oracle nodes that attested it, the verifier) → issuance → every transfer and
settlement → retirements and their serial ranges.

Each step carries the event's block, transaction and log index so anyone can look it up on the
node; the role of each attesting node and of the verifier is read from Consortium's public role
constants (its ABI), not guessed."""

from __future__ import annotations

from typing import Any

from registry.audit.reads import ChainReads
from registry.audit.state import Folded, Retirement

KINDS = ("batch", "retirement", "ticket", "pledge", "order")


class UnknownObject(LookupError):
    """The chain has no such object."""

    def __init__(self, kind: str, ident: int) -> None:
        super().__init__(f"the chain has no {kind} {ident}")
        self.kind = kind
        self.ident = ident


def role_ids(r: ChainReads) -> dict[str, str]:
    """Role id (0x-hex) → name, from Consortium's `*_ROLE` constant getters."""
    out: dict[str, str] = {}
    consortium = r.c("Consortium")
    for item in r.deployment.abis["Consortium"]:
        name = str(item.get("name", ""))
        if (item.get("type") == "function" and name.endswith("_ROLE") and not item["inputs"]
                and item.get("stateMutability") in ("view", "pure")):
            value = bytes(r.chain.call(getattr(consortium.functions, name)(), r.block))
            label = "GOVERNANCE" if name == "DEFAULT_ADMIN_ROLE" else name[:-len("_ROLE")]
            out.setdefault("0x" + value.hex(), label)
    return out


def _roles_of(r: ChainReads, roles: dict[str, str], account: str) -> list[str]:
    consortium = r.c("Consortium")
    return sorted(name for rid, name in roles.items() if name != "MEMBER" and r.chain.call(
        consortium.functions.hasRole(bytes.fromhex(rid[2:]), account), r.block))


def _step(what: str, ev: Any, **fields: Any) -> dict[str, Any]:
    return {"step": what, **fields, **ev.where()}


def _origin(f: Folded, r: ChainReads, report_id: int) -> list[dict[str, Any]]:
    """Methodology, project and monitoring report of a report id."""
    roles = role_ids(r)
    steps: list[dict[str, Any]] = []
    opened = f.report_opened.get(report_id)
    project_id = int(opened.args["projectId"]) if opened else 0
    project = f.projects.get(project_id)
    if project is not None:
        m = f.methodologies.get(int(project.args["methodologyId"]))
        if m is not None:
            steps.append(_step("methodology", m, id=int(m.args["methodologyId"]),
                               code=m.args["code"], name=m.args["name"],
                               buffer_bps=int(m.args["bufferBps"])))
        steps.append(_step("project", project, id=project_id, name=project.args["name"],
                           developer=project.args["developer"]))
    attested = f.report_attested.get(report_id)
    root = attested.args["merkleRoot"] if attested else None
    nodes = [{"node": a.args["node"], "root": a.args["merkleRoot"],
              "agrees": root is not None and a.args["merkleRoot"] == root,
              "roles": _roles_of(r, roles, a.args["node"]), **a.where()}
             for a in f.attestations.get(report_id, [])]
    if attested is not None:
        steps.append(_step("monitoring_report", attested, id=report_id, merkle_root=root,
                           quantity=int(attested.args["quantity"]),
                           report_hash=attested.args["reportHash"],
                           votes=int(attested.args["votes"]), attestations=nodes))
    verified = f.report_verified.get(report_id)
    if verified is not None:
        steps.append(_step("verification", verified, verifier=verified.args["verifier"],
                           verifier_roles=_roles_of(r, roles, verified.args["verifier"]),
                           verified_quantity=int(verified.args["verifiedQuantity"])))
    return steps


def _retirement_step(x: Retirement, kind: str) -> dict[str, Any]:
    return _step("retirement", x.event, id=x.id, kind=kind, holder=x.holder, amount=x.amount,
                 serial_start=x.serial_start, serial_end=x.serial_end, purpose=x.purpose,
                 beneficiary=x.beneficiary, case_reference=x.case_reference)


def batch(f: Folded, r: ChainReads, batch_id: int) -> dict[str, Any]:
    ev = f.batches.get(batch_id)
    if ev is None:
        raise UnknownObject("batch", batch_id)
    steps = _origin(f, r, int(ev.args["reportId"]))
    steps.append(_step("issuance", ev, batch_id=batch_id, developer=ev.args["developer"],
                       issued=int(ev.args["issued"]), buffer=int(ev.args["buffer"])))
    trades = {t.tx_hash: t for ts in f.trades.values() for t in ts
              if int(t.args["batchId"]) == batch_id}
    for t in f.transfers.get(batch_id, []):
        if t.args["from"] == "0x" + "0" * 40 or t.args["to"] == "0x" + "0" * 40:
            continue  # mints and burns are the issuance, retirements and cancellations
        value = int(t.args["value"]) if "value" in t.args else sum(
            int(v) for i, v in zip(t.args["ids"], t.args["values"], strict=True)
            if int(i) == batch_id)
        trade = trades.get(t.tx_hash)
        steps.append(_step("transfer", t, **{"from": t.args["from"]}, to=t.args["to"],
                           amount=value, trade_id=int(trade.args["tradeId"]) if trade else None))
    for trade in trades.values():
        steps.append(_step("settlement", trade, trade_id=int(trade.args["tradeId"]),
                           buyer=trade.args["buyer"], seller=trade.args["seller"],
                           quantity=int(trade.args["quantity"]), price=int(trade.args["price"])))
    for x in sorted(f.retirements.values(), key=lambda x: x.serial_start):
        if x.asset == batch_id:
            steps.append(_retirement_step(x, "credits"))
    for c in f.cancellations.get(batch_id, []):
        steps.append(_step("cancellation", c, amount=int(c.args["amount"]),
                           serial_start=int(c.args["serialStart"]),
                           serial_end=int(c.args["serialEnd"])))
    steps.sort(key=lambda s: (s["block"], s["log_index"]))
    return {"kind": "batch", "id": batch_id, "steps": steps}


def retirement(f: Folded, r: ChainReads, retirement_id: int) -> dict[str, Any]:
    x = f.retirements.get(retirement_id)
    if x is None:
        raise UnknownObject("retirement", retirement_id)
    record = (x.holder, x.asset, x.amount, x.serial_start, x.purpose, x.beneficiary,
              x.case_reference)
    verified = bool(r.call("CarbonCredits", "verifyRetirement", retirement_id, record))
    origin = batch(f, r, x.asset)
    return {"kind": "retirement", "id": retirement_id, "batch_id": x.asset,
            "record_verified_on_chain": verified, "retirement": _retirement_step(x, "credits"),
            "steps": origin["steps"]}


def ticket(f: Folded, r: ChainReads, token_id: int) -> dict[str, Any]:
    slot = f.token_slot.get(token_id)
    if slot is None:
        raise UnknownObject("ticket", token_id)
    steps = _origin(f, r, slot)
    for e in f.token_events.get(token_id, []):
        steps.append(_step(e.name, e, **{k: v for k, v in e.args.items()
                                         if isinstance(v, int | str)}))
    for x in f.ticket_retirements.values():
        if x.token_id == token_id:
            steps.append(_retirement_step(x, "ticket"))
    steps.sort(key=lambda s: (s["block"], s["log_index"]))
    return {"kind": "ticket", "id": token_id, "slot": slot, "value": f.token_value[token_id],
            "owner": f.token_owner.get(token_id), "steps": steps}


def pledge(f: Folded, r: ChainReads, pledge_id: int) -> dict[str, Any]:
    p = f.pledges.get(pledge_id)
    if p is None:
        raise UnknownObject("pledge", pledge_id)
    kind = "ticket" if int(p.args["kind"]) == 0 else "batch"
    end = f.pledge_ends.get(pledge_id)
    asset = (ticket(f, r, int(p.args["sourceTokenId"])) if kind == "ticket"
             else batch(f, r, int(p.args["assetId"])))
    return {"kind": "pledge", "id": pledge_id, "asset_kind": kind,
            "asset_id": int(p.args["assetId"]), "value": int(p.args["value"]),
            "pledgor": p.args["pledgor"], "bank": p.args["bank"],
            "status": "active" if end is None else end.name,
            "pledge": _step("pledged", p, loan_reference=p.args["loanReference"],
                            amount_fen=int(p.args["amountFen"])),
            "end": _step(end.name, end) if end else None, "asset": asset}


def order(f: Folded, r: ChainReads, order_id: int) -> dict[str, Any]:
    o = f.orders.get(order_id)
    if o is None:
        raise UnknownObject("order", order_id)
    counted = []
    for c in f.counted.get(order_id, []):
        rid = int(c.args["retirementId"])
        x = f.retirements.get(rid)
        counted.append({**_step("counted", c, retirement_id=rid, amount=int(c.args["amount"]),
                                value=int(c.args["value"]),
                                fulfilled=int(c.args["fulfilled"])),
                        "retirement": _retirement_step(x, "credits") if x else None,
                        "batch": batch(f, r, x.asset)["steps"] if x else None})
    return {"kind": "order", "id": order_id, "case_number": o.args["caseNumber"],
            "authority": o.args["authority"], "registered": _step("registered", o),
            "counted": counted}


def provenance(f: Folded, r: ChainReads, kind: str, ident: int) -> dict[str, Any]:
    """The provenance of `kind` `ident` (one of KINDS)."""
    tracer = {"batch": batch, "retirement": retirement, "ticket": ticket, "pledge": pledge,
              "order": order}.get(kind)
    if tracer is None:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    return tracer(f, r, ident)
