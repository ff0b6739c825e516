"""`Idempotency-Key` for writes that move credits.

A client that lost the answer to a transfer or retirement retries with the same key and gets the
first result back instead of moving credits twice. The key is claimed (committed as pending)
before anything is signed, so two concurrent attempts cannot both send. If the attempt fails
before or on chain (a refusal, a revert) the claim is released and the same key may be retried.

The transaction's hash is recorded on the pending claim once it is signed and before it is
broadcast (`chain.client.on_signed`), so no outcome stays unknown: a retry of a key left pending
(the node stopped answering mid-way, the API process died) asks the chain what became of that
transaction (chain/reconcile.py). Mined → the write happened: the retry finishes the first
attempt from its receipt and answers its result. Still able to land (in the node's pool, or in
the outbox to be re-sent) → re-sent now, and answered once it lands, else 409
`idempotency_in_progress`. Reverted or never able to land → nothing happened: the retry runs
afresh. An attempt that fails before anything is signed (the node unreachable) releases its
claim; a claim without a transaction was abandoned before signing when its process is gone
(api/claim_holder.py: the `attempt` token names its process) or, where that cannot be told, once
it is older than `PENDING_LEASE_SECONDS`, and is taken over; the `attempt` token makes a slow
original unable to send afterwards.

A finished key is not trusted blindly either: the chain can lose the block of an acknowledged
write (the embedded anvil killed before its next state dump). Its replay checks the transaction:
still there → the stored answer; lost but in the outbox → re-sent with the same bytes (same
hash) and answered once it lands; reverted when re-sent or superseded → 409
`idempotent_write_lost` (nothing moved) and the key is released for a fresh attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Caller
from api.claim_holder import holder_gone, new_attempt
from api.errors import ApiError
from api.models import IdempotentRequest, utcnow
from chain.client import Chain, ChainRevert, Sent, on_signed
from chain.reconcile import settle_now

MAX_KEY_LENGTH = 255
# A pending claim with no transaction yet, older than this, was abandoned before signing.
PENDING_LEASE_SECONDS = 120.0
# How long a replay waits for a re-sent transaction to land before answering "in progress".
RESEND_WAIT_SECONDS = 10.0


@dataclass
class Slot:
    """What a route does under a key: replay a stored response; or finish an earlier attempt
    whose transaction landed (`landed`, no new transaction); or run and `store` one."""

    session: Session
    row_id: int | None
    attempt: str | None = None
    replay: JSONResponse | None = None
    landed: Sent | None = None
    tx_hash: str | None = None  # signed under this attempt (and maybe broadcast)

    def _mine(self) -> Any:
        return (IdempotentRequest.id == self.row_id) & (IdempotentRequest.attempt == self.attempt)

    def store(self, status: int, body: dict[str, Any]) -> None:
        if self.row_id is None:
            return
        self.session.execute(update(IdempotentRequest).where(self._mine()).values(
            state="done", response_status=status, response=body, completed_at=utcnow()))
        self.session.commit()

    def record_tx(self, tx_hash: str) -> None:
        """Called once the transaction is signed, before it is broadcast: committed in its own
        transaction; if another attempt took the key over, nothing is sent."""
        with Session(self.session.get_bind()) as s:
            done = s.execute(update(IdempotentRequest).where(
                self._mine(), IdempotentRequest.state == "pending").values(tx_hash=tx_hash))
            s.commit()
        if getattr(done, "rowcount", 0) != 1:
            raise ApiError(409, "idempotency_in_progress",
                           "another attempt with this Idempotency-Key took it over")
        self.tx_hash = tx_hash

    def release(self) -> None:
        """Nothing happened on chain: the key may be used again."""
        if self.row_id is None:
            return
        self.session.rollback()
        self.session.execute(delete(IdempotentRequest).where(self._mine()))
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


def _in_progress(details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(409, "idempotency_in_progress",
                    "a request with this Idempotency-Key has not finished", details,
                    headers={"Retry-After": "2"})


def _age(row: IdempotentRequest) -> float:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - created).total_seconds()


def _replay_done(session: Session, row: IdempotentRequest, chain: Chain) -> Slot:
    """The stored answer, if its transaction is still (or again) on chain."""
    assert row.response is not None and row.response_status is not None
    tx_hash = row.tx_hash or row.response.get("tx_hash")
    if isinstance(tx_hash, str) and tx_hash:
        fate = settle_now(chain, tx_hash, RESEND_WAIT_SECONDS)
        if fate.failed:
            session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == row.id))
            session.commit()
            raise ApiError(409, "idempotent_write_lost",
                           "the chain lost the transaction of this request and it cannot be "
                           "sent again; nothing moved, and the key is free: retry it to send "
                           "the request afresh",
                           {"tx_hash": tx_hash, "reason": fate.detail or "reverted"})
        if not fate.landed:
            raise _in_progress({"tx_hash": tx_hash, "state": "resending"})
        if fate.block_number is not None and row.response.get("block_number") not in (
                None, fate.block_number):  # re-sent: the same transaction in another block
            row.response = {**row.response, "block_number": fate.block_number}
            session.commit()
    return Slot(session, None, replay=JSONResponse(
        row.response, status_code=row.response_status, headers={"Idempotent-Replayed": "true"}))


def _take_over(session: Session, row: IdempotentRequest) -> Slot:
    """A fresh attempt under a key whose earlier attempt sent nothing that can land."""
    attempt = new_attempt()
    old = (IdempotentRequest.attempt == row.attempt) if row.attempt is not None else (
        IdempotentRequest.attempt.is_(None))
    # and only if the earlier attempt recorded no transaction since it was judged: one that
    # did is about to broadcast it
    sent = (IdempotentRequest.tx_hash.is_(None) if row.tx_hash is None
            else IdempotentRequest.tx_hash == row.tx_hash)
    done = session.execute(update(IdempotentRequest).where(
        IdempotentRequest.id == row.id, IdempotentRequest.state == "pending", old, sent).values(
        attempt=attempt, tx_hash=None, created_at=utcnow()))
    session.commit()
    if getattr(done, "rowcount", 0) != 1:
        raise _in_progress()
    return Slot(session, row.id, attempt)


def _resume_pending(session: Session, row: IdempotentRequest, chain: Chain) -> Slot:
    """A retry of a key whose attempt has not answered: settled from the chain."""
    if row.tx_hash:
        fate = settle_now(chain, row.tx_hash, RESEND_WAIT_SECONDS)
        if fate.landed and fate.success:
            receipt = fate.receipt or chain.receipt(row.tx_hash)
            assert receipt is not None
            sent = Sent(row.tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        receipt)
            return Slot(session, row.id, row.attempt, landed=sent)
        if not fate.failed:
            raise _in_progress({"tx_hash": row.tx_hash, "state": fate.state})
        return _take_over(session, row)  # it did not take effect: try afresh
    if _age(row) < PENDING_LEASE_SECONDS and not holder_gone(row.attempt):
        raise _in_progress()
    return _take_over(session, row)


def _claim(session: Session, caller: Caller, route: str, key: str, digest: str,
           chain: Chain) -> Slot:
    row = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.api_account_id == caller.account_id, IdempotentRequest.key == key
        )
    )
    if row is not None:
        if row.request_hash != digest:
            raise ApiError(422, "idempotency_key_reused",
                           "this Idempotency-Key was used for a different request")
        if row.state == "done" and row.response is not None and (
                row.response_status is not None):
            return _replay_done(session, row, chain)
        return _resume_pending(session, row, chain)
    attempt = new_attempt()
    row = IdempotentRequest(api_account_id=caller.account_id, key=key, route=route,
                            request_hash=digest, state="pending", created_at=utcnow(),
                            attempt=attempt)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _in_progress() from None
    return Slot(session, row.id, attempt)


@contextmanager
def idempotent(
    session: Session, caller: Caller, route: str, key: str | None, body: BaseModel,
    chain: Chain,
) -> Iterator[Slot]:
    """Claims `key` for this caller (no key: runs without one)."""
    if key is None:
        yield Slot(session, None)
        return
    _check_key(key)
    slot = _claim(session, caller, route, key, _request_hash(route, body), chain)
    if slot.row_id is None:
        yield slot
        return
    try:
        with on_signed(slot.record_tx):
            yield slot
    except (ApiError, ChainRevert):
        slot.release()  # refused, or reverted: nothing happened on chain
        raise
    except BaseException:
        if slot.tx_hash is None:
            slot.release()  # failed before anything was signed: nothing can land
        raise  # else the outcome is unknown: a retry asks the chain
