"""Tables the API owns: API accounts (who may call, and the custodial keys it signs with) and
idempotent write results.

Only the SHA-256 of an API key is stored, so a leaked database does not leak working keys, and a
custodial private key is stored only encrypted under the master key (see api.custody).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApiAccount(Base):
    """One chain account that may use the API. `encrypted_key` is set for custodial accounts
    (the API signs for them); own-key accounts sign ERC-2771 requests themselves."""

    __tablename__ = "api_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def custodial(self) -> bool:
        return self.encrypted_key is not None


class IdempotentRequest(Base):
    """A write made under an `Idempotency-Key`: pending while it runs, then its response, so a
    retried request returns the first result instead of sending a second transaction.

    `tx_hash` is recorded once the transaction is signed and before it is broadcast, so an
    attempt whose outcome is unknown is settled from the chain (api/idempotency.py); `attempt`
    names the attempt holding the key, so a stale one taken over cannot send afterwards."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_account_id: Mapped[int] = mapped_column(ForeignKey("api_accounts.id"))
    key: Mapped[str] = mapped_column(String(255))
    route: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # "pending" | "done"
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    attempt: Mapped[str | None] = mapped_column(String(32), nullable=True)
