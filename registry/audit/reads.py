"""What the chain's storage says now, read with view calls in bulk (balanceOfBatch in chunks),
so the checks can hold the events against it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract

from chain.client import Chain
from chain.deploy import Deployment

CHUNK = 400


class ChainReads:
    """View calls of the deployment's contracts, at one block."""

    def __init__(self, chain: Chain, deployment: Deployment, block: int) -> None:
        self.chain = chain
        self.deployment = deployment
        self.block = block

    def c(self, name: str) -> Contract:
        return self.deployment.contract(self.chain, name)

    def call(self, contract: str, fn: str, *args: Any) -> Any:
        return self.chain.call(getattr(self.c(contract).functions, fn)(*args), self.block)

    def balances(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """balanceOf of every (holder, batch), in chunks of one call each."""
        out: dict[tuple[str, int], int] = {}
        credits = self.c("CarbonCredits")
        for i in range(0, len(pairs), CHUNK):
            part = pairs[i:i + CHUNK]
            values = self.chain.call(credits.functions.balanceOfBatch(
                [to_checksum_address(h) for h, _ in part], [b for _, b in part]), self.block)
            out.update(zip(part, (int(v) for v in values), strict=True))
        return out
