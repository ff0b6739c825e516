"""The HTTP API: members act on the registry of record (the contracts) and anyone reads it.

Writes are checked at the edge (strict request models), against current chain state
(pre-checks with precise codes) and by simulation, all before anything is signed, so a bad
request never costs a transaction; errors always have the shape
`{"error": {"code", "message", "details"}}`. Reads come from the SQL index (api.routes.reads),
except certificates and their verification, which read the chain.
"""

from __future__ import annotations

import logging
from typing import Any

from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from requests.exceptions import ConnectionError as RpcConnectionError
from requests.exceptions import Timeout as RpcTimeout
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from web3.exceptions import TimeExhausted

from api import docs_pages, observability
from api.chain_errors import revert_code, revert_details, revert_message, revert_status
from api.custody import Vault, load_master_key
from api.errors import EXCHANGE_STATUS, INBOX_STATUS, ApiError
from api.fields import FIELD_CODES
from api.forwarding import Relayer, relayer_account
from api.limits import RequestLimits
from api.onchain import ChainView
from api.routes import (
    audit,
    batches,
    cash,
    certificates,
    compensation,
    compensation_certificates,
    compensation_offers,
    compensation_reads,
    compensation_tickets,
    credits,
    exchange,
    exchange_ops,
    health,
    members,
    methodologies,
    oracle,
    pledge_writes,
    projects,
    reads,
    relay,
    reports,
    retail,
    ticket_retirements,
    ticket_writes,
    tickets,
)
from chain.client import ChainRevert
from core.config import Settings
from core.db import session_factory
from core.version import VERSION
from exchange.errors import ExchangeError
from exchange.onchain import SettlementChain
from exchange.service import ExchangeService
from oracle.inbox import Inbox, InboxError
from registry.compensation import Compensation
from registry.ledger import Ledger

log = logging.getLogger("tanhui.api")


def _error(status: int, code: str, message: str, details: Any = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details}},
                        status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "message": e.get("msg")}
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(ExchangeError)
    def _exchange_error(_: Request, exc: ExchangeError) -> JSONResponse:
        return _error(EXCHANGE_STATUS.get(exc.code, 409), exc.code, exc.message, exc.details)

    @app.exception_handler(InboxError)
    def _inbox_error(_: Request, exc: InboxError) -> JSONResponse:
        return _error(INBOX_STATUS.get(exc.code, 409), exc.code, exc.message, exc.details)

    @app.exception_handler(StarletteHTTPException)
    def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and wrong methods get the same error shape as everything else.
        codes = {404: "route_not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"),
                      str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        code = next((e["type"] for e in errors if e["type"] in FIELD_CODES), "invalid_request")
        message = errors[0]["message"] if errors else "invalid request"
        return _error(422, code, message, errors)

    @app.exception_handler(ChainRevert)
    def _revert(request: Request, exc: ChainRevert) -> JSONResponse:
        caller = getattr(request.state, "caller_address", None)
        status = revert_status(exc, caller)
        details = {"error": exc.name, "args": revert_details(exc)}
        return _error(status, revert_code(exc, status, caller), revert_message(exc), details)

    @app.exception_handler(RpcConnectionError)
    @app.exception_handler(RpcTimeout)
    @app.exception_handler(TimeExhausted)
    def _chain_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("chain node unavailable: %s", exc)
        return _error(503, "chain_unavailable", "the chain node is not answering; retry later")

    @app.exception_handler(Exception)
    def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal_error", "internal error")


def create_app(settings: Settings, ledger: Ledger, engine: Engine,
               exchange_service: ExchangeService | None = None,
               relayer: LocalAccount | None = None) -> FastAPI:
    """The API over one deployment (`ledger`) and one database (`engine`, migrated). The
    relayer pays gas for members' forwarded calls: `relayer`, else the configured key."""
    app = FastAPI(
        title="Tanhui 碳汇 Registry API",
        version=VERSION,
        description="Carbon credit registry on a permissioned ledger: methodologies, projects, "
        "monitoring reports, batches, transfers, retirements and verifiable certificates. "
        "Errors: `{\"error\": {\"code\", \"message\", \"details\"}}`; see docs/api.md.",
        docs_url=None,  # api.docs_pages serves /docs and /redoc with no CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    if settings.public_url is None:
        log.warning(
            "TANHUI_PUBLIC_URL is unset: certificates' QR codes and links point at %s, which "
            "only this machine can open; set it to the registry's public address",
            settings.base_url)
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.vault = Vault(load_master_key(settings))
    forwarder = Relayer(ledger, relayer or relayer_account(settings))
    app.state.relayer = forwarder
    app.state.writer = ledger.via(forwarder)  # every write signed by its caller, relayed
    app.state.settlement = SettlementChain(app.state.writer)  # CashToken, Settlement
    app.state.compensation = Compensation(app.state.writer)  # orders and their offers
    app.state.view = ChainView(ledger)
    app.state.inbox = Inbox(settings.oracle_inbox, ledger)
    app.state.exchange = exchange_service
    install_error_handlers(app)
    # Body caps and the JSON depth limit apply before any route parses or authenticates; the
    # request context (id, access log, latency) wraps everything, refusals included.
    app.add_middleware(RequestLimits)
    observability.install(app)
    # Routes are matched in order, one by one: the exchange's (order entry is the hot path)
    # come first; no other route shares their /v1/exchange prefix. The compensation routers
    # keep their order too: an order's own routes (/orders/mine) before the reads that take
    # any /orders/{order_id}.
    for module in (exchange, exchange_ops, health, members, methodologies, projects, reports,
                   batches, credits, relay, certificates, reads, oracle, cash, compensation,
                   compensation_tickets, compensation_offers, compensation_reads,
                   compensation_certificates, ticket_retirements, tickets, ticket_writes,
                   pledge_writes, retail, docs_pages, observability, audit):
        app.include_router(module.router)
    return app
