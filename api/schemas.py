"""Request and response shapes shared by the write routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from pydantic import BaseModel

from api.fields import STRICT, ZERO_HASH, Hash32
from chain.client import Sent


class TxOut(BaseModel):
    """The transaction that carried a write (sent by the relayer, signed by the member)."""

    tx_hash: str
    block_number: int


def tx(sent: Sent) -> dict[str, Any]:
    return {"tx_hash": sent.tx_hash, "block_number": sent.block_number}


class ReasonIn(BaseModel):
    """A decision whose document is referenced by hash (zero when there is none)."""

    model_config = STRICT

    reason_hash: Hash32 = ZERO_HASH


class DecisionIn(BaseModel):
    model_config = STRICT

    decision_hash: Hash32 = ZERO_HASH


# Action routes accept an empty body, `{}`, or the fields.
OptionalReason = Annotated[ReasonIn | None, Body()]
OptionalDecision = Annotated[DecisionIn | None, Body()]
