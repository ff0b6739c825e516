"""Sink categories: what a methodology's credits sequester carbon in.

Eligibility rules are written in them (a compensation order admits mangrove and seagrass
credits, a class instrument one category), so every methodology names one when it is
registered (MethodologyRegistry.SinkCategory; 0 is never valid). The snake-case member names,
lower-cased, are the spelling the API and the CLI use.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class SinkCategory(IntEnum):
    MANGROVE = 1
    SEAGRASS = 2
    SALT_MARSH = 3
    MACROALGAE = 4  # kelp: sediment burial and recalcitrant dissolved organic carbon
    SHELLFISH = 5  # farming sediment carbon and RDOC
    FOREST = 6  # carbon-stock increment
    SOIL_WATER_CONSERVATION = 7

    @property
    def key(self) -> str:
        """The API's spelling: `salt_marsh`, `soil_water_conservation`."""
        return self.name.lower()

    @classmethod
    def of(cls, key: str) -> SinkCategory:
        """The category spelled `key` (`mangrove`, ...); KeyError for an unknown spelling."""
        return cls[key.upper()]


def category_mask(categories: Iterable[int]) -> int:
    """The bit mask (1 << category per category) orders and instruments store."""
    mask = 0
    for c in categories:
        mask |= 1 << int(SinkCategory(c))
    return mask


def categories_of_mask(mask: int) -> tuple[SinkCategory, ...]:
    """The categories a mask admits, in enum order."""
    return tuple(c for c in SinkCategory if mask >> int(c) & 1)
