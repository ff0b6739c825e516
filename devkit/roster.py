"""The development consortium on the embedded chain: named accounts from anvil's dev mnemonic.

Used by `tanhui up`, the demo and the tests. Production rosters come from real members' keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger

DEV_MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class Seat:
    """One member of the development consortium."""

    key: str
    name: str
    roles: tuple[str, ...]
    index: int


# index 0 is the deployer (governance). The non-member seat is never admitted.
SEATS: tuple[Seat, ...] = (
    Seat("governance", "碳汇联盟治理委员会 Tanhui Consortium Governance", ("GOVERNANCE",), 0),
    Seat(
        "regulator",
        "广西壮族自治区生态环境厅 Guangxi Dept. of Ecology and Environment",
        ("REGULATOR",),
        1,
    ),
    Seat("operator", "北部湾碳汇登记中心 Beibu Gulf Carbon Registry", ("REGISTRY_OPERATOR",), 2),
    Seat("verifier", "中环联合认证中心 CEC Verification", ("VERIFIER",), 3),
    Seat("oracle1", "监测节点一 Oracle node 1", ("ORACLE",), 4),
    Seat("oracle2", "监测节点二 Oracle node 2", ("ORACLE",), 5),
    Seat("oracle3", "监测节点三 Oracle node 3", ("ORACLE",), 6),
    Seat("exchange", "北部湾产权交易所 Beibu Gulf Exchange", ("EXCHANGE",), 7),
    Seat("bank", "北部湾银行 Beibu Gulf Bank", ("BANK",), 8),
    Seat("procuratorate", "钦州市人民检察院 Qinzhou Procuratorate", ("AUTHORITY",), 9),
    Seat("forestry", "广西林业局 Guangxi Forestry Bureau", ("FORESTRY",), 10),
    Seat("developer", "钦州茅尾海红树林合作社 Maowei Sea Mangrove Cooperative", (), 11),
    Seat("trader1", "广西北港新材料有限公司 Beigang New Materials Co.", (), 12),
    Seat("trader2", "南宁绿色发展基金 Nanning Green Fund", (), 13),
    Seat("trader3", "钦州港务集团 Qinzhou Port Group", (), 14),
    Seat("outsider", "未入盟账户 Non-member account", (), 15),
    Seat("retail", "恩施州碳汇超市 Enshi Carbon Supermarket", ("RETAIL",), 16),
)


def dev_account(index: int) -> LocalAccount:
    acct: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct


def dev_accounts() -> dict[str, LocalAccount]:
    return {s.key: dev_account(s.index) for s in SEATS}


def seat(key: str) -> Seat:
    return next(s for s in SEATS if s.key == key)


def bootstrap_roster(ledger: Ledger, accounts: dict[str, LocalAccount]) -> int:
    """Admits every seat but the outsider and grants its roles; skips what is already done.

    The governance seat is the deployer, which the Consortium made its single admin: that role
    is never granted (AccessControlDefaultAdminRules forbids it; it is handed over in two
    delayed steps instead). Returns the number of transactions sent.
    """
    gov = accounts["governance"]
    sent = 0
    for s in SEATS:
        if s.key in ("governance", "outsider"):
            continue
        address = accounts[s.key].address
        if not ledger.is_member(address):
            ledger.admit(gov, address, s.name)
            sent += 1
        for role in s.roles:
            if not ledger.holds_role(role, address):
                ledger.grant_role(gov, role, address)
                sent += 1
    return sent
