"""Compensation orders at the API's edge: the request shapes an authority sends and their
translation into the terms CompensationOrders stores.

An order is denominated in tonnes or in CNY, never both; categories name at least one sink
category; regions are division-code prefixes; a vintage window is given in calendar years
(China time), stored as the instants the contract compares a batch's period end with. What
the contract would refuse on its own (a past deadline, a party that is not a member) is checked
here first with a stable code, so a malformed order never costs a transaction.
"""

from __future__ import annotations

import calendar
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from api.fields import (
    STRICT,
    ZERO_HASH,
    Address,
    DivisionPrefix,
    Hash32,
    NonZeroHash32,
    Tonnes,
    UnixTime,
    Yuan,
    text,
)
from api.fulfilment import order_links
from core.config import Settings
from core.units import format_units
from registry.categories import SinkCategory, categories_of_mask, category_mask

CategoryName = Literal[
    "mangrove", "seagrass", "salt_marsh", "macroalgae", "shellfish", "forest",
    "soil_water_conservation",
]
UINT64_MAX = 2**64 - 1
CHINA_OFFSET = 8 * 3600
MAX_PARTIES = 16
MAX_REGIONS = 16
Year = Annotated[int, Field(ge=1990, le=2200)]


def year_start(year: int) -> int:
    """00:00 on 1 January of `year`, China time, as unix seconds."""
    return calendar.timegm((year, 1, 1, 0, 0, 0)) - CHINA_OFFSET


def year_of(instant: int) -> int:
    """The China-time calendar year an instant falls in."""
    return int(time.gmtime(instant + CHINA_OFFSET).tm_year)


class TermsIn(BaseModel):
    """What an order requires and admits."""

    model_config = STRICT

    required_tonnes: Tonnes | None = Field(
        None, description="tonnes CO2e to retire (or give required_cny)")
    required_cny: Yuan | None = Field(
        None, description="a compensation amount in yuan, converted through the settled "
        "purchase prices on chain (or give required_tonnes)")
    categories: list[CategoryName] = Field(description="eligible sink categories, at least one")
    regions: list[DivisionPrefix] = Field(
        default_factory=list, max_length=MAX_REGIONS,
        description="division-code prefixes a project must lie in; empty admits any region")
    vintage_from: Year | None = Field(None, description="first eligible vintage year")
    vintage_to: Year | None = Field(None, description="last eligible vintage year")
    deadline: UnixTime
    parties: list[Address] = Field(
        default_factory=list, max_length=MAX_PARTIES,
        description="member accounts of the liable parties, who may retire for the order")
    party_names: list[Annotated[str, text(128)]] = Field(
        min_length=1, max_length=MAX_PARTIES, description="every liable party by name")
    authority_pays: bool = Field(
        False, description="the authority buys on the parties' behalf from compensation funds")
    document_hash: NonZeroHash32 = Field(description="hash of the judgment or decision")

    @model_validator(mode="before")
    @classmethod
    def _no_category(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("categories") == []:
            raise PydanticCustomError(
                "no_eligible_category", "an order must admit at least one sink category")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TermsIn:
        if (self.required_tonnes is None) == (self.required_cny is None):
            raise PydanticCustomError(
                "required_amount_missing",
                "give exactly one of required_tonnes and required_cny")
        if (self.vintage_from is not None and self.vintage_to is not None
                and self.vintage_from > self.vintage_to):
            raise PydanticCustomError("invalid_vintage", "vintage_from is after vintage_to")
        if not self.parties and not self.authority_pays:
            raise PydanticCustomError(
                "no_paying_party",
                "name a member account among the parties, or let the authority pay")
        if len(set(self.parties)) != len(self.parties):
            raise PydanticCustomError("duplicate_party", "a party account is listed twice")
        return self

    def contract_terms(self) -> dict[str, Any]:
        """The `Terms` tuple's fields by name, as CompensationOrders takes them."""
        fen = self.required_cny is not None
        required = self.required_cny if fen else self.required_tonnes
        assert required is not None
        return {
            "unit": 1 if fen else 0,
            "required": required,
            "categoryMask": category_mask(SinkCategory.of(c) for c in self.categories),
            "regions": list(self.regions),
            "vintageFrom": 0 if self.vintage_from is None else year_start(self.vintage_from),
            "vintageTo": UINT64_MAX if self.vintage_to is None
            else year_start(self.vintage_to + 1),
            "deadline": self.deadline,
            "parties": list(self.parties),
            "partyNames": list(self.party_names),
            "authorityPays": self.authority_pays,
            "documentHash": bytes.fromhex(self.document_hash[2:]),
        }


class OrderIn(TermsIn):
    case_number: Annotated[str, text(128)] = Field(
        description="the case number as the authority files it, e.g. （2026）桂07民初123号")


class AmendIn(TermsIn):
    reason_hash: Hash32 = ZERO_HASH


def cny(fen: int) -> str:
    """Fen as yuan with two decimals: 5000000 -> "50000.00"."""
    return f"{fen // 100}.{fen % 100:02d}"


def amount_label(unit: str, value: int) -> str:
    return cny(value) if unit == "fen" else format_units(value)


def present(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """An order (index row shape: registry.models.CompensationOrder) as the API shows it, with
    the links to its fulfilment certificate and verification page (`settings.base_url`: the
    public URL, as on the certificates themselves)."""
    unit = row["unit"]
    v_from = int(row["vintage_from"])
    v_to = UINT64_MAX if row["vintage_to"] is None else int(row["vintage_to"])
    return {
        "id": row["id"],
        "case_number": row["case_number"],
        "authority": row["authority"],
        "unit": "cny" if unit == "fen" else "tonnes",
        "required": amount_label(unit, int(row["required"])),
        "required_units": int(row["required"]),
        "fulfilled": amount_label(unit, int(row["fulfilled"])),
        "fulfilled_units": int(row["fulfilled"]),
        "remaining": amount_label(unit, max(int(row["required"]) - int(row["fulfilled"]), 0)),
        "retired": format_units(int(row["retired_amount"])),
        "retired_units": int(row["retired_amount"]),
        "status": row["status"],
        "categories": [c.key for c in categories_of_mask(int(row["category_mask"]))],
        "regions": [str(r) for r in row["regions"]],
        "vintage_from": None if v_from == 0 else year_of(v_from),
        "vintage_to": None if v_to == UINT64_MAX else year_of(v_to) - 1,
        "deadline": int(row["deadline"]),
        "parties": list(row["parties"]),
        "party_names": list(row["party_names"]),
        "authority_pays": bool(row["authority_pays"]),
        "document_hash": row["document_hash"],
        **order_links(settings, int(row["id"])),
    }


class OrderOut(BaseModel):
    id: int
    case_number: str
    authority: str
    unit: Literal["tonnes", "cny"]
    required: str
    required_units: int = Field(description="micro-tonnes, or fen for a CNY order")
    fulfilled: str
    fulfilled_units: int
    remaining: str
    retired: str = Field(description="tonnes retired for the order")
    retired_units: int
    status: Literal["open", "partly_fulfilled", "fulfilled", "closed", "overdue"]
    categories: list[str]
    regions: list[str]
    vintage_from: int | None
    vintage_to: int | None
    deadline: int
    parties: list[str]
    party_names: list[str]
    authority_pays: bool
    document_hash: str
    certificate_url: str = Field(
        description="the fulfilment certificate (HTML, one A4 page when printed): 履行证明 once "
        "fulfilled, 履行进度 before")
    certificate_pdf_url: str = Field(description="the same certificate as a one-page A4 PDF")
    verify_page_url: str = Field(
        description="the bilingual verification page its QR code opens (without the claims)")
