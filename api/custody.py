"""API keys and custodial signing keys.

An API key is random, shown once, and stored only as its SHA-256, so the database alone cannot
be used to call the API. A custodial private key (for members without their own key) is stored
AES-256-GCM encrypted under the master key, with the account address as associated data, so a
ciphertext copied onto another account's row fails to decrypt instead of signing for it.

The master key comes from `Settings.master_key` (urlsafe base64 of 32 bytes) or from the file
`Settings.master_key_file` names (kept apart from the database it protects). Only for the
embedded development chain is one generated, once, into `<data_dir>/master.key` (mode 0600): on
an external chain a missing master key is an error, so production never keeps the key next to
the ciphertexts by accident.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiAccount, utcnow
from core.config import Settings

KEY_PREFIX = "th_"
NONCE_BYTES = 12


class CustodyError(RuntimeError):
    """The master key is missing or malformed, or a custodial key does not decrypt."""


def _decode_master(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raise CustodyError("master key is not urlsafe base64") from None
    if len(key) != 32:
        raise CustodyError("master key must be 32 bytes")
    return key


def load_master_key(settings: Settings) -> bytes:
    """The configured master key (TANHUI_MASTER_KEY or TANHUI_MASTER_KEY_FILE), or on the
    embedded chain the one in the data directory (created on first use)."""
    if settings.master_key and settings.master_key_file:
        raise CustodyError("set TANHUI_MASTER_KEY or TANHUI_MASTER_KEY_FILE, not both")
    if settings.master_key:
        return _decode_master(settings.master_key)
    if settings.master_key_file:
        try:
            text = Path(settings.master_key_file).read_text()
        except OSError as exc:
            raise CustodyError(f"master key file {settings.master_key_file}: "
                               f"{exc.strerror or exc}") from None
        return _decode_master(text)
    path: Path = settings.data_dir / "master.key"
    if not settings.embedded_chain:
        hint = (f"; {path} exists from an earlier start: move it off the data directory and "
                "point TANHUI_MASTER_KEY_FILE at it" if path.exists() else "")
        raise CustodyError("an external chain needs an explicit master key: set "
                           "TANHUI_MASTER_KEY or TANHUI_MASTER_KEY_FILE (kept apart from the "
                           "data directory)" + hint)
    settings.ensure_data_dir()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_master(path.read_text())
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode())
    return _decode_master(path.read_text())


class Vault:
    """Encrypts and decrypts custodial private keys under the master key."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def seal(self, address: str, private_key: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_key, _aad(address))

    def open(self, address: str, sealed: bytes) -> LocalAccount:
        try:
            key = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(address))
        except InvalidTag:
            raise CustodyError(f"custodial key of {address} does not decrypt") from None
        account: LocalAccount = Account.from_key(key)
        if account.address != to_checksum_address(address):
            raise CustodyError(f"custodial key of {address} belongs to {account.address}")
        return account


def _aad(address: str) -> bytes:
    return b"tanhui-custodial-key:" + to_checksum_address(address).encode()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Provisioned:
    """A new API key (shown once) and the account it acts for."""

    api_key: str
    address: str
    custodial: bool


def provision_api_account(
    session: Session,
    settings: Settings,
    name: str,
    account: LocalAccount | None = None,
    address: str | None = None,
    vault: Vault | None = None,
) -> Provisioned:
    """Issues an API key for a chain account, replacing any earlier key of that address.

    With `account`, its private key is kept (encrypted) as a custodial key. With only `address`,
    the member keeps its own key and signs ERC-2771 requests itself. With neither, a new
    custodial key is generated. The row is flushed, not committed: the caller decides.
    """
    if (
        account is not None
        and address is not None
        and to_checksum_address(address) != account.address
    ):
        raise ValueError("address does not match the account's key")
    if account is None and address is None:
        account = Account.create()
    if account is not None:
        address = account.address
    assert address is not None
    if not is_address(address):
        raise ValueError(f"not an address: {address!r}")
    address = to_checksum_address(address)
    vault = vault or Vault(load_master_key(settings))
    sealed = vault.seal(address, bytes(account.key)) if account is not None else None
    api_key = new_api_key()
    row = session.scalar(select(ApiAccount).where(ApiAccount.address == address))
    if row is None:
        row = ApiAccount(address=address, created_at=utcnow())
        session.add(row)
    row.name = name
    row.api_key_hash = hash_api_key(api_key)
    row.encrypted_key = sealed
    row.active = True
    session.flush()
    return Provisioned(api_key, address, sealed is not None)


def create_api_account(
    session: Session,
    settings: Settings,
    name: str,
    account: LocalAccount | None = None,
    address: str | None = None,
) -> str:
    """`provision_api_account` returning just the API key (for provisioning scripts)."""
    return provision_api_account(session, settings, name, account, address).api_key
