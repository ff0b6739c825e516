"""Runtime settings, from the environment (prefix TANHUI_) or a .env file.

Defaults describe the embedded setup: a project-managed anvil, SQLite under the data directory.
Point `TANHUI_RPC_URL` at any EVM JSON-RPC endpoint (e.g. a Besu QBFT network) and
`TANHUI_DATABASE_URL` (or `DATABASE_URL`) at PostgreSQL for production.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import ROOT
from core.private import make_private_dir

# anvil's well-known development mnemonic; only ever used for the embedded local chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", env_file=".env", extra="ignore")

    data_dir: Path = ROOT / ".tanhui"
    rpc_url: str | None = Field(
        default=None, description="External JSON-RPC endpoint; unset starts the embedded anvil."
    )
    chain_id: int = 31337
    anvil_port: int = Field(default=0, description="0 picks a free port.")
    anvil_block_time: float | None = Field(
        default=None, description="Seconds per block; unset mines on every transaction."
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TANHUI_DATABASE_URL", "DATABASE_URL")
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = Field(
        default=None,
        description="Base URL printed on certificates and carried by their QR codes (defaults to "
        "the API's own listening address, which only this machine can open).",
    )
    chromium_path: Path = Field(
        default=Path("/usr/bin/chromium"),
        description="The Chromium that prints certificates to PDF (Debian's, installed by "
        "scripts/bootstrap); without it PDFs answer 503 pdf_unavailable.",
    )
    deployer_key: str | None = Field(
        default=None, description="Hex private key of the governance account on an external chain."
    )
    relayer_key: str | None = Field(
        default=None,
        description="Hex private key of the account that relays members' signed ERC-2771 "
        "requests and pays their gas; defaults to the deployer (governance) key.",
    )
    master_key: str | None = Field(
        default=None,
        description="Key (urlsafe base64, 32 bytes) that encrypts custodial keys. With neither "
        "this nor master_key_file, one is generated into the data directory, on the embedded "
        "development chain only.",
    )
    master_key_file: Path | None = Field(
        default=None,
        description="A file holding the master key (urlsafe base64), kept apart from the data "
        "directory: a secrets manager's mount or a separate volume, mode 0400.",
    )
    attestation_threshold: int = Field(default=2, ge=1, description="k of n oracle attestations.")
    confirmations: int = Field(
        default=0, ge=0, description="Blocks on top before a block counts (indexer, outbox).")
    oracle_key: str | None = Field(
        default=None,
        description="Hex private key of this oracle node (ORACLE role); on the embedded chain "
        "`tanhui oracle run --node oracle1` uses that development seat's key instead.",
    )
    exchange_key: str | None = Field(
        default=None,
        description="Hex private key the exchange settles with (EXCHANGE role); the development "
        "exchange seat on the embedded chain.",
    )
    oracle_interval_seconds: float = Field(
        default=60, gt=0, description="How often a node rescans its inbox and attests."
    )
    indexer_batch_blocks: int = Field(default=2000, ge=1)
    indexer_poll_seconds: float = 0.5

    @property
    def embedded_chain(self) -> bool:
        return self.rpc_url is None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tanhui.db'}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def oracle_inbox(self) -> Path:
        """Where monitoring data waits for the oracle nodes: <inbox>/<project_id>/..."""
        return self.data_dir / "oracle" / "inbox"

    @classmethod
    def at(cls, data_dir: str | Path | None = None) -> Settings:
        """The settings from the environment, with the data directory a command was given
        (`--data-dir`) in place of the configured one."""
        s = cls()
        return s.model_copy(update={"data_dir": Path(data_dir)}) if data_dir else s

    def ensure_data_dir(self) -> Path:
        """The data directory, created if missing, readable by the service user only."""
        return make_private_dir(self.data_dir)
