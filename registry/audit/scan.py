"""Reading every log of a deployment from the chain, page by page.

An auditor trusts nothing but the node: logs come from eth_getLogs over the deployment's
addresses, from the deployment block to the head, in block ranges that halve when a node refuses
a range as too large. Raw JSON is decoded with the contracts' own ABIs (chain.abi)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from chain.abi import DecodedEvent, EventDecoder
from chain.client import Chain
from chain.deploy import Deployment

# (blocks done, blocks in all): lets a terminal draw a progress bar over long chains.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Event:
    """A decoded log and the contract (by deployment name) that emitted it."""

    contract: str
    name: str
    args: dict[str, Any]
    block: int
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, contract: str, ev: DecodedEvent) -> Event:
        return cls(contract, ev.name, ev.args, ev.block_number, ev.tx_hash, ev.log_index)

    def where(self) -> dict[str, Any]:
        return {"block": self.block, "tx": self.tx_hash, "log_index": self.log_index}


def _raw(log: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC log in the shape EventDecoder reads (bytes topics and data)."""
    return {
        "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
        "data": bytes.fromhex(log["data"][2:]),
        "address": log["address"],
        "blockNumber": int(log["blockNumber"], 16),
        "transactionHash": log["transactionHash"],
        "logIndex": int(log["logIndex"], 16),
    }


class LogScanner:
    """All decoded events of a deployment, in chain order."""

    def __init__(self, chain: Chain, deployment: Deployment, page_blocks: int = 5_000) -> None:
        self.chain = chain
        self.deployment = deployment
        self.page_blocks = max(1, page_blocks)
        self.decoder = EventDecoder(deployment.abis.values(), lenient_strings=True)
        self.name_of = {
            str(to_checksum_address(r.address)).lower(): n
            for n, r in deployment.contracts.items()
        }

    def head(self) -> int:
        return int(self.chain.rpc("eth_blockNumber"), 16)

    def scan(self, to_block: int | None = None, progress: Progress | None = None) -> list[Event]:
        start = self.deployment.block
        end = self.head() if to_block is None else to_block
        addresses = sorted(self.name_of)
        events: list[Event] = []
        block, step = start, self.page_blocks
        total = max(1, end - start + 1)
        while block <= end:
            last = min(end, block + step - 1)
            try:
                logs = self.chain.rpc("eth_getLogs", {"fromBlock": hex(block),
                                                      "toBlock": hex(last),
                                                      "address": addresses})
            except Exception:
                if step == 1:
                    raise
                step = max(1, step // 2)
                continue
            for log in logs:
                if log.get("removed"):
                    continue
                decoded = self.decoder.decode(_raw(log))
                if decoded is not None:
                    events.append(Event.of(self.name_of[log["address"].lower()], decoded))
            block = last + 1
            if progress is not None:
                progress(block - start, total)
        events.sort(key=lambda e: (e.block, e.log_index))
        return events
