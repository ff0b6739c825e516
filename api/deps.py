"""FastAPI dependencies: what a route may use, taken from the application state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.custody import Vault
from api.forwarding import Relayer
from api.onchain import ChainView
from core.config import Settings
from exchange.onchain import SettlementChain
from oracle.inbox import Inbox
from registry.compensation import Compensation
from registry.ledger import Ledger


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    factory: Any = request.app.state.sessions
    with factory() as session:
        yield session


def get_view(request: Request) -> ChainView:
    """Reads straight from the contracts (for pre-checks and certificates)."""
    view: ChainView = request.app.state.view
    return view


def get_inbox(request: Request) -> Inbox:
    """The oracle inbox: the one door through which monitoring data reaches the nodes."""
    inbox: Inbox = request.app.state.inbox
    return inbox


def get_writer(request: Request) -> Ledger:
    """Registry operations signed by the caller's key and sent through the relayer."""
    writer: Ledger = request.app.state.writer
    return writer


def get_compensation(request: Request) -> Compensation:
    """CompensationOrders and CompensationOffers, written through the relayer."""
    comp: Compensation = request.app.state.compensation
    return comp


def get_settlement(request: Request) -> SettlementChain:
    """CashToken and Settlement calls, written through the relayer like every member write
    (built once: it reads its ABI fragments from the deployment)."""
    settlement: SettlementChain = request.app.state.settlement
    return settlement


def get_relayer(request: Request) -> Relayer:
    relayer: Relayer = request.app.state.relayer
    return relayer


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ViewDep = Annotated[ChainView, Depends(get_view)]
WriterDep = Annotated[Ledger, Depends(get_writer)]
SettlementDep = Annotated[SettlementChain, Depends(get_settlement)]
CompensationDep = Annotated[Compensation, Depends(get_compensation)]
RelayerDep = Annotated[Relayer, Depends(get_relayer)]
VaultDep = Annotated[Vault, Depends(get_vault)]
InboxDep = Annotated[Inbox, Depends(get_inbox)]
