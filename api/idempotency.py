"""`Idempotency-Key` for writes that move credits.

A client that lost the answer to a transfer or retirement retries with the same key and gets the
first result back instead of moving credits twice. The key is claimed (committed as pending)
before anything is signed, so two concurrent attempts cannot both send. If the attempt fails
before or on chain (a refusal, a revert) the claim is released and the same key may be retried;
if the outcome is unknown (the node stopped answering mid-way) the claim stays pending and
retries answer 409 `idempotency_in_progress` rather than risk a second transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Caller
from api.errors import ApiError
from api.models import IdempotentRequest, utcnow
from chain.client import ChainRevert

MAX_KEY_LENGTH = 255


@dataclass
class Slot:
    """What a route does under a key: replay a stored response, or run and `store` one."""

    session: Session
    row_id: int | None
    replay: JSONResponse | None = None

    def store(self, status: int, body: dict[str, Any]) -> None:
        if self.row_id is None:
            return
        row = self.session.get(IdempotentRequest, self.row_id)
        assert row is not None
        row.state = "done"
        row.response_status = status
        row.response = body
        row.completed_at = utcnow()
        self.session.commit()


def _request_hash(route: str, body: BaseModel) -> str:
    canonical = json.dumps(
        {"route": route, "body": body.model_dump(mode="json")}, sort_keys=True,
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or key != key.strip():
        raise ApiError(422, "invalid_idempotency_key",
                       f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")


def _claim(session: Session, caller: Caller, route: str, key: str, digest: str) -> Slot:
    row = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.api_account_id == caller.account_id, IdempotentRequest.key == key
        )
    )
    if row is not None:
        if row.request_hash != digest:
            raise ApiError(422, "idempotency_key_reused",
                           "this Idempotency-Key was used for a different request")
        if row.state != "done" or row.response is None or row.response_status is None:
            raise ApiError(409, "idempotency_in_progress",
                           "a request with this Idempotency-Key has not finished")
        return Slot(session, None, JSONResponse(
            row.response, status_code=row.response_status,
            headers={"Idempotent-Replayed": "true"},
        ))
    row = IdempotentRequest(api_account_id=caller.account_id, key=key, route=route,
                            request_hash=digest, state="pending", created_at=utcnow())
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "idempotency_in_progress",
                       "a request with this Idempotency-Key has not finished") from None
    return Slot(session, row.id)


@contextmanager
def idempotent(
    session: Session, caller: Caller, route: str, key: str | None, body: BaseModel
) -> Iterator[Slot]:
    """Claims `key` for this caller (no key: runs without one)."""
    if key is None:
        yield Slot(session, None)
        return
    _check_key(key)
    slot = _claim(session, caller, route, key, _request_hash(route, body))
    try:
        yield slot
    except (ApiError, ChainRevert):
        if slot.row_id is not None:  # refused: nothing happened on chain, release the key
            session.rollback()
            session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == slot.row_id))
            session.commit()
        raise
