"""chain/structs.py is exactly what the compiled contracts give: a struct changed in Solidity
fails here until `python -m chain.structs_gen` is run and its output committed."""

from __future__ import annotations

import pytest

from chain.compile import compile_contracts
from chain.structs_gen import TARGET, snake_case, source


def test_the_committed_records_are_what_the_compiled_contracts_give() -> None:
    assert TARGET.read_text() == source(compile_contracts()), (
        "chain/structs.py is stale: run python -m chain.structs_gen")


@pytest.mark.parametrize(("abi", "python"), [
    ("merkleRoot", "merkle_root"), ("latitudeE6", "latitude_e6"), ("areaM2", "area_m2"),
    ("bufferBps", "buffer_bps"), ("frozen", "frozen"), ("ABIVersion", "abi_version"),
    ("from", "from_"),
])
def test_field_names_are_the_abi_names_in_snake_case(abi: str, python: str) -> None:
    assert snake_case(abi) == python
