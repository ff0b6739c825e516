"""Idempotent deployment of the Tanhui contracts with a verifiable deployment record.

The record (addresses, chain id, block, code hashes) is written once. On every later start the
record is checked against the chain: if any address has no code or different code, or the
sources have changed since, the record is refused rather than silently reused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from rlp import encode as rlp_encode
from web3.contract import Contract

from chain.client import Chain
from chain.compile import Artifact, compile_contracts, source_hash

# Deployment order; constructor arguments are wired in `deploy_all`.
CONTRACTS = (
    "TanhuiForwarder",
    "Consortium",
    "MethodologyRegistry",
    "ProjectRegistry",
    "MonitoringReports",
    "DisturbanceReports",
    "CompensationOrders",
    "CarbonCredits",
    "CashToken",
    "Settlement",
    "CompensationOffers",
    "ForestTickets",
    "PledgeRegister",
    "CarbonSupermarket",
    "ForwardDelivery",
    "ForwardMarket",
)


# Seconds between governance scheduling its handover to a successor and the successor accepting
# it (AccessControlDefaultAdminRules): long enough for the consortium to notice and object.
DEFAULT_GOVERNANCE_DELAY = 2 * 86_400


class DeploymentError(RuntimeError):
    """The deployment record cannot be used with this chain or these sources."""


@dataclass
class ContractRecord:
    address: str
    code_hash: str


@dataclass
class Deployment:
    chain_id: int
    block: int
    deployer: str
    source_hash: str
    contracts: dict[str, ContractRecord]
    abis: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def contract(self, chain: Chain, name: str) -> Contract:
        address = to_checksum_address(self.contracts[name].address)
        return chain.w3.eth.contract(address=address, abi=self.abis[name])

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block": self.block,
            "deployer": self.deployer,
            "source_hash": self.source_hash,
            "contracts": {k: asdict(v) for k, v in self.contracts.items()},
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, artifacts: dict[str, Artifact]) -> Deployment:
        raw = json.loads(path.read_text())
        return cls(
            chain_id=raw["chain_id"],
            block=raw["block"],
            deployer=raw["deployer"],
            source_hash=raw["source_hash"],
            contracts={k: ContractRecord(**v) for k, v in raw["contracts"].items()},
            abis={k: artifacts[k].abi for k in raw["contracts"] if k in artifacts},
        )


def get_create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from `sender` at `nonce` deploys to: keccak(rlp([sender, nonce]))."""
    return "0x" + keccak(rlp_encode([bytes.fromhex(sender[2:]), nonce]))[12:].hex()


def error_abis(artifacts: dict[str, Artifact]) -> list[list[dict[str, Any]]]:
    return [a.abi for a in artifacts.values()]


def deploy_all(chain: Chain, deployer: LocalAccount, threshold: int, base_uri: str,
               artifacts: dict[str, Artifact] | None = None,
               governance_delay: int = DEFAULT_GOVERNANCE_DELAY) -> Deployment:
    """Deploys every contract afresh with `deployer` as governance."""
    arts = artifacts or compile_contracts()
    addr: dict[str, str] = {}
    first_block: int | None = None

    def put(name: str, *args: Any) -> None:
        nonlocal first_block
        a = arts[name]
        addr[name], sent = chain.deploy(a.abi, a.bytecode, deployer, *args)
        first_block = sent.block_number if first_block is None else first_block

    def next_address(ahead: int) -> str:
        """Where the deployer's CREATE `ahead` transactions from now will deploy."""
        nonce = int(chain.w3.eth.get_transaction_count(deployer.address, "pending"))
        return to_checksum_address(get_create_address(deployer.address, nonce + ahead))

    put("TanhuiForwarder")
    fwd = addr["TanhuiForwarder"]
    # The consortium refuses to revoke oracles below MonitoringReports' threshold, and
    # MonitoringReports needs the consortium's address: its address is computed in advance
    # (Consortium, MethodologyRegistry, ProjectRegistry, then MonitoringReports), checked below.
    # MonitoringReports lets only the two registers (CarbonCredits, ForestTickets) claim a
    # report, so that each report is issued once across both: their addresses too.
    # DisturbanceReports lets only CarbonCredits draw confirmed losses and CompensationOrders
    # lets only CarbonCredits count retirements (and only ForestTickets count ticket
    # retirements), while CarbonCredits needs both their addresses;
    # CompensationOrders trusts Settlement's and CompensationOffers' prices, and CashToken lets
    # only Settlement use its settlement path, and Settlement delivers forest tickets from
    # ForestTickets (deployed after it): the later addresses are computed from the
    # deployer's next nonces (CREATE) and checked after deploying each.
    reports_at = next_address(3)
    credits_at = next_address(6)
    settlement_at = next_address(8)
    offers_at = next_address(9)
    tickets_at = next_address(10)
    put("Consortium", deployer.address, governance_delay, reports_at, fwd)
    put("MethodologyRegistry", addr["Consortium"], fwd)
    put("ProjectRegistry", addr["Consortium"], addr["MethodologyRegistry"], tickets_at, fwd)
    put("MonitoringReports", addr["Consortium"], addr["ProjectRegistry"], threshold, credits_at,
        tickets_at, fwd)
    if to_checksum_address(addr["MonitoringReports"]) != reports_at:
        raise DeploymentError("MonitoringReports was not deployed at its precomputed address")
    put("DisturbanceReports", addr["Consortium"], addr["ProjectRegistry"],
        addr["MonitoringReports"], credits_at, fwd)
    put("CompensationOrders", addr["Consortium"], addr["MethodologyRegistry"],
        addr["ProjectRegistry"], credits_at, tickets_at, settlement_at, offers_at, fwd)
    put("CarbonCredits", addr["Consortium"], addr["MethodologyRegistry"], addr["ProjectRegistry"],
        addr["MonitoringReports"], addr["DisturbanceReports"], addr["CompensationOrders"],
        base_uri, fwd)
    # (Settlement's constructor checks CashToken's binding, CompensationOffers' the order book's.)
    put("CashToken", addr["Consortium"], fwd, settlement_at)
    put("Settlement", addr["Consortium"], addr["CarbonCredits"], addr["CashToken"],
        addr["ProjectRegistry"], tickets_at, deployer.address, fwd)
    put("CompensationOffers", addr["Consortium"], addr["CarbonCredits"], addr["CashToken"],
        addr["CompensationOrders"], fwd)
    put("ForestTickets", addr["Consortium"], addr["MethodologyRegistry"], addr["ProjectRegistry"],
        addr["MonitoringReports"], addr["CompensationOrders"], fwd)
    put("PledgeRegister", addr["Consortium"], addr["CarbonCredits"], addr["ForestTickets"], fwd)
    put("CarbonSupermarket", addr["Consortium"], addr["CarbonCredits"], addr["ForestTickets"], fwd)
    # The forward market delegates delivery to its module (same storage layout, same wiring).
    put("ForwardDelivery", addr["Consortium"], addr["CarbonCredits"], addr["CashToken"],
        addr["ProjectRegistry"], fwd)
    put("ForwardMarket", addr["Consortium"], addr["CarbonCredits"], addr["CashToken"],
        addr["ProjectRegistry"], fwd, addr["ForwardDelivery"])
    for name, at in (("CarbonCredits", credits_at), ("Settlement", settlement_at),
                     ("CompensationOffers", offers_at), ("ForestTickets", tickets_at)):
        if to_checksum_address(addr[name]) != at:
            raise DeploymentError(f"{name} was not deployed at its precomputed address")
    # The venues move credits and cash as approved operators, which only members may be, and
    # the pledge register holds pledged tickets and credits in escrow, the carbon supermarket
    # retail seats' stock and the forward market margin cash and delivered credits, which only
    # members may: they join the consortium as part of the deployment.
    consortium = chain.w3.eth.contract(address=to_checksum_address(addr["Consortium"]),
                                       abi=arts["Consortium"].abi)
    for name, label in (("Settlement", "结算合约 Settlement contract"),
                        ("CompensationOffers", "生态补偿认购合约 Compensation offers contract"),
                        ("PledgeRegister", "质押登记合约 Pledge register contract"),
                        ("CarbonSupermarket", "碳汇超市合约 Carbon supermarket contract"),
                        ("ForwardMarket", "碳远期合约 Forward market contract")):
        chain.send(consortium.functions.admit(to_checksum_address(addr[name]), label, bytes(32)),
                   deployer)
    assert first_block is not None
    return Deployment(
        chain_id=chain.chain_id,
        block=first_block,
        deployer=deployer.address,
        source_hash=source_hash(),
        contracts={
            n: ContractRecord(address=addr[n], code_hash=arts[n].code_hash()) for n in CONTRACTS
        },
        abis={n: arts[n].abi for n in CONTRACTS},
    )


def check_deployment(chain: Chain, deployment: Deployment, artifacts: dict[str, Artifact]) -> None:
    """Raises DeploymentError unless the chain holds exactly the recorded, current code."""
    if deployment.chain_id != chain.chain_id:
        raise DeploymentError(
            f"record is for chain {deployment.chain_id}, endpoint is chain {chain.chain_id}"
        )
    for name in CONTRACTS:
        rec = deployment.contracts.get(name)
        if rec is None:
            raise DeploymentError(f"record lacks {name}")
        code = bytes(chain.w3.eth.get_code(rec.address))  # type: ignore[arg-type]
        if not code:
            raise DeploymentError(f"{name} has no code at {rec.address} (chain state lost?)")
        if artifacts[name].code_hash(code) != rec.code_hash:
            raise DeploymentError(f"{name} at {rec.address} does not match the recorded code")
        if artifacts[name].code_hash() != rec.code_hash:
            raise DeploymentError(
                f"{name} sources changed since deployment; deploy afresh (tanhui deploy --fresh)"
            )


def ensure_deployed(chain: Chain, deployer: LocalAccount, record_path: Path, threshold: int,
                    base_uri: str, fresh: bool = False,
                    governance_delay: int = DEFAULT_GOVERNANCE_DELAY) -> Deployment:
    """Reuses a valid record or deploys and writes one; never reuses a mismatching record."""
    artifacts = compile_contracts()
    if record_path.exists() and not fresh:
        deployment = Deployment.load(record_path, artifacts)
        check_deployment(chain, deployment, artifacts)
        return deployment
    deployment = deploy_all(chain, deployer, threshold, base_uri, artifacts, governance_delay)
    deployment.save(record_path)
    return deployment
