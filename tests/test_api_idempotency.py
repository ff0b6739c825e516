"""`Idempotency-Key` on transfers and retirements: a retried request returns the first result and
never moves credits twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger
from tanhui.scenario import Batch, Scenario
from tests.test_api_support import TONNE, Api, ApiDatabase, api_database, open_api


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-idempotency")), acc)


@dataclass
class Ctx:
    api: Api
    batch: Batch

    def retire(self, key: str, amount: str = "1") -> Any:
        return self.api.raw("POST", "/v1/retirements", "developer", {
            "batch_id": self.batch.batch_id, "amount": amount, "beneficiary": "南宁绿色发展基金",
            "purpose": "voluntary"}, headers={"Idempotency-Key": key})

    @property
    def held(self) -> int:
        return self.api.ledger.balance(self.api.acc["developer"].address, self.batch.batch_id)


@pytest.fixture
def ctx(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Ctx]:
    batch = Scenario(ledger, acc).batch(quantity=10 * TONNE)  # developer holds 9 t
    with open_api(db, ledger, acc).http as http:
        yield Ctx(Api(http, db, ledger, acc), batch)


def test_a_retried_retirement_retires_once(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    first = ctx.retire(key)
    assert first.status_code == 201, first.text
    held = ctx.held
    retries = [ctx.retire(key) for _ in range(2)]
    for again in retries:
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
    assert ctx.held == held
    count = ctx.api.ledger.chain.call(ctx.api.ledger.c("CarbonCredits").functions.retirementCount())
    assert count == 1


def test_a_key_cannot_be_reused_for_another_request(ctx: Ctx,
                                                    request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    assert ctx.retire(key, "1").status_code == 201
    other = ctx.retire(key, "2")
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert ctx.held == 8 * TONNE


def test_a_refused_attempt_releases_its_key(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"retire-{request.node.name}"
    refused = ctx.retire(key, "9.5")
    assert refused.json()["error"]["code"] == "insufficient_balance"
    smaller = ctx.retire(key, "9")
    assert smaller.status_code == 201, smaller.text
    assert ctx.held == 0


def test_keys_belong_to_their_caller(ctx: Ctx, request: pytest.FixtureRequest) -> None:
    key = f"shared-{request.node.name}"
    api = ctx.api
    mine = api.raw("POST", "/v1/transfers", "developer",
                   {"to": api.acc["trader1"].address, "batch_id": ctx.batch.batch_id,
                    "amount": "2"}, headers={"Idempotency-Key": key})
    assert mine.status_code == 201
    theirs = api.raw("POST", "/v1/transfers", "trader1",
                     {"to": api.acc["trader2"].address, "batch_id": ctx.batch.batch_id,
                      "amount": "1"}, headers={"Idempotency-Key": key})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert api.ledger.balance(api.acc["trader2"].address, ctx.batch.batch_id) == TONNE


def test_a_malformed_key_is_refused(ctx: Ctx) -> None:
    r = ctx.retire("x" * 256)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_idempotency_key")
    assert ctx.held == 9 * TONNE
