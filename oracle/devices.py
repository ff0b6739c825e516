"""The per-project device registry: which keys may sign readings for a project.

A plain, serialisable data structure — the chain-facing layer mirrors it on chain or in the
database; validation only needs to look a device up. A revoked device's readings are all
rejected, including ones timestamped before revocation: once a key is suspected, anything it
signed could have been back-dated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from oracle.fields import identifier

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Device:
    """A registered sensor: its id, the Ethereum-style address of its key, and status."""

    device_id: str
    address: str
    status: DeviceStatus = DeviceStatus.ACTIVE
    kind: str = ""
    address_bytes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        identifier(self.device_id, "device_id")
        if not _ADDRESS.fullmatch(self.address):
            raise ValueError(f"device {self.device_id}: address must be 0x + 40 hex digits")
        object.__setattr__(self, "address", self.address.lower())
        object.__setattr__(self, "address_bytes", bytes.fromhex(self.address[2:]))
        object.__setattr__(self, "status", DeviceStatus(self.status))

    @property
    def active(self) -> bool:
        return self.status is DeviceStatus.ACTIVE

    def to_json(self) -> dict[str, str]:
        out = {"device_id": self.device_id, "address": self.address, "status": str(self.status)}
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class DeviceRegistry:
    """Devices registered for one project, keyed by device id."""

    project: str
    devices: Mapping[str, Device]

    @classmethod
    def of(cls, project: str, devices: Iterable[Device]) -> DeviceRegistry:
        table: dict[str, Device] = {}
        for d in devices:
            if d.device_id in table:
                raise ValueError(f"device {d.device_id} registered twice")
            table[d.device_id] = d
        return cls(project, table)

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def revoke(self, device_id: str) -> DeviceRegistry:
        """A new registry with the device revoked (registries are values, not shared state)."""
        d = self.devices[device_id]
        table = dict(self.devices)
        table[device_id] = Device(d.device_id, d.address, DeviceStatus.REVOKED, d.kind)
        return DeviceRegistry(self.project, table)

    def to_json(self) -> dict[str, object]:
        return {
            "project": self.project,
            "devices": [self.devices[k].to_json() for k in sorted(self.devices)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> DeviceRegistry:
        """A registry from its JSON form; ValueError naming the first problem."""
        rows = data.get("devices")
        project = data.get("project")
        if not isinstance(project, str) or not isinstance(rows, list):
            raise ValueError('registry JSON needs "project" and a "devices" list')
        devices = []
        for row in rows:
            if not isinstance(row, dict):
                raise ValueError("each device must be an object")
            try:
                devices.append(
                    Device(
                        str(row["device_id"]),
                        str(row["address"]),
                        DeviceStatus(str(row.get("status", "active"))),
                        str(row.get("kind", "")),
                    )
                )
            except KeyError as e:
                raise ValueError(f"device entry without {e.args[0]!r}") from None
        return cls.of(project, devices)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> DeviceRegistry:
        return cls.from_json(json.loads(path.read_text()))
