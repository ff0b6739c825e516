"""Names of China's administrative divisions (GB/T 2260), for certificates and pages.

The chain stores a project's location, and a compensation order's eligible regions, as division
codes only (six digits, or a prefix of two or four: `45` Guangxi, `4507` Qinzhou, `450702`
Qinnan District), so that eligibility is a prefix test. People read names, so every page that
shows a code shows its name beside it. This is a small table, not the whole standard: every
province-level division, and the prefectures and counties of the registry's development data
and of the cases it was designed from (DESIGN.md, "Real cases"). A code below a known division
is named by its longest known prefix (`450799` → Qinzhou), so a page always says at least the
province; a code with no known prefix has no name, and pages show the code alone.

Pure data and lookups: imports nothing of Tanhui's (the ground floor).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Division:
    """One division: its code as a prefix (2, 4 or 6 digits) and its names."""

    code: str
    zh: str
    en: str


def _table(*rows: tuple[str, str, str]) -> dict[str, Division]:
    return {code: Division(code, zh, en) for code, zh, en in rows}


DIVISIONS: dict[str, Division] = _table(
    # provinces, autonomous regions, municipalities, special administrative regions
    ("11", "北京市", "Beijing"),
    ("12", "天津市", "Tianjin"),
    ("13", "河北省", "Hebei"),
    ("14", "山西省", "Shanxi"),
    ("15", "内蒙古自治区", "Inner Mongolia Autonomous Region"),
    ("21", "辽宁省", "Liaoning"),
    ("22", "吉林省", "Jilin"),
    ("23", "黑龙江省", "Heilongjiang"),
    ("31", "上海市", "Shanghai"),
    ("32", "江苏省", "Jiangsu"),
    ("33", "浙江省", "Zhejiang"),
    ("34", "安徽省", "Anhui"),
    ("35", "福建省", "Fujian"),
    ("36", "江西省", "Jiangxi"),
    ("37", "山东省", "Shandong"),
    ("41", "河南省", "Henan"),
    ("42", "湖北省", "Hubei"),
    ("43", "湖南省", "Hunan"),
    ("44", "广东省", "Guangdong"),
    ("45", "广西壮族自治区", "Guangxi Zhuang Autonomous Region"),
    ("46", "海南省", "Hainan"),
    ("50", "重庆市", "Chongqing"),
    ("51", "四川省", "Sichuan"),
    ("52", "贵州省", "Guizhou"),
    ("53", "云南省", "Yunnan"),
    ("54", "西藏自治区", "Xizang Autonomous Region"),
    ("61", "陕西省", "Shaanxi"),
    ("62", "甘肃省", "Gansu"),
    ("63", "青海省", "Qinghai"),
    ("64", "宁夏回族自治区", "Ningxia Hui Autonomous Region"),
    ("65", "新疆维吾尔自治区", "Xinjiang Uygur Autonomous Region"),
    ("71", "台湾省", "Taiwan"),
    ("81", "香港特别行政区", "Hong Kong SAR"),
    ("82", "澳门特别行政区", "Macao SAR"),
    # Guangxi: the Beibu Gulf coast (mangroves, seagrass)
    ("4505", "北海市", "Beihai"),
    ("4506", "防城港市", "Fangchenggang"),
    ("4507", "钦州市", "Qinzhou"),
    ("450702", "钦南区", "Qinnan District"),
    ("450703", "钦北区", "Qinbei District"),
    # Fujian: Lianjiang and Fuqing (macroalgae), Xiamen (enforcement case), Sanming (tickets)
    ("3501", "福州市", "Fuzhou"),
    ("350122", "连江县", "Lianjiang County"),
    ("350181", "福清市", "Fuqing"),
    ("3502", "厦门市", "Xiamen"),
    ("3504", "三明市", "Sanming"),
    # Zhejiang: Shengsi (mussel-farming sediment carbon)
    ("3309", "舟山市", "Zhoushan"),
    ("330922", "嵊泗县", "Shengsi County"),
    # Guangdong: Shenzhen (fishery carbon auction)
    ("4403", "深圳市", "Shenzhen"),
    # Hubei: Enshi (forest carbon tickets)
    ("4228", "恩施土家族苗族自治州", "Enshi Tujia and Miao Autonomous Prefecture"),
)


def prefix_of(code: int | str) -> str:
    """The code as the prefix it stands for: `450000` → `45`, `450700` → `4507`, `450702` and
    `4507` unchanged. ValueError for anything but 2, 4 or 6 digits."""
    text = str(code).strip()
    if not text.isdigit() or len(text) not in (2, 4, 6):
        raise ValueError(f"not a division code: {code!r}")
    if len(text) == 6 and text.endswith("0000"):
        return text[:2]
    if len(text) == 6 and text.endswith("00"):
        return text[:4]
    return text


def lineage(code: int | str) -> tuple[Division, ...]:
    """The known divisions containing `code`, province first, most specific last; empty when
    not even the province is known (or the code is malformed)."""
    try:
        prefix = prefix_of(code)
    except ValueError:
        return ()
    return tuple(
        DIVISIONS[prefix[:n]] for n in (2, 4, 6) if n <= len(prefix) and prefix[:n] in DIVISIONS
    )


@dataclass(frozen=True)
class DivisionName:
    """How a page names a code: the full name in each language, built from the longest known
    prefix (`matched`), and whether that prefix is the whole code (`exact`)."""

    code: str
    matched: str
    zh: str
    en: str

    @property
    def exact(self) -> bool:
        return self.matched == prefix_of(self.code)


def division_name(code: int | str) -> DivisionName | None:
    """`450702` → 广西壮族自治区钦州市钦南区 / Qinnan District, Qinzhou, Guangxi Zhuang
    Autonomous Region; None when no prefix of the code is known."""
    found = lineage(code)
    if not found:
        return None
    return DivisionName(
        code=str(code).strip(),
        matched=found[-1].code,
        zh="".join(d.zh for d in found),
        en=", ".join(d.en for d in reversed(found)),
    )
