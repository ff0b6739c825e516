"""Every operation in the API's own OpenAPI document, fed generated requests (valid and
invalid by the schema) with every development role's API key and with none, against a real
`tanhui up` that holds an issued batch: no request is answered with a server error, and the
server is still healthy afterwards.

The budget is small and fixed (a few examples per operation, drawn the same way every run),
so the suite stays bounded; `HYPOTHESIS_PROFILE=explore` searches afresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from core.config import Settings
from devkit.roster import dev_accounts
from devkit.scenario import Scenario
from tanhui.services import connect
from tests.support.processes import tanhui_up

# one development seat for each role (members without a role, and a non-member, too)
ROLE_SEATS = ("governance", "regulator", "operator", "verifier", "oracle1", "exchange", "bank",
              "procuratorate", "forestry", "retail", "developer", "outsider")
EXAMPLES_PER_OPERATION = 5


@dataclass(frozen=True)
class Running:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    with tanhui_up(data) as env:
        conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
        Scenario(conn.ledger, dev_accounts()).batch()  # ids 1 exist: deeper paths are reached
        keys = json.loads(next(data.glob("dev-api-keys-*.json")).read_text())
        yield Running(f"http://127.0.0.1:{env['TANHUI_API_PORT']}", keys)


def fuzz(operation: schemathesis.APIOperation, running: Running) -> None:
    """A few requests valid by the schema and a few not, each sent as every role."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))
    seats: tuple[str | None, ...] = (None,)
    if operation.method.upper() != "GET":  # reads are the same for everyone
        seats += ROLE_SEATS

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
              database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(cases)
    def requests(case: schemathesis.Case) -> None:
        for seat in seats:
            headers = {} if seat is None else {"Authorization": f"Bearer {running.keys[seat]}"}
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

    requests()


def test_no_generated_request_gets_a_server_error(running: Running) -> None:
    schema = schemathesis.openapi.from_url(running.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    failures = []
    for operation in operations:
        try:
            fuzz(operation, running)
        except Exception as exc:  # every operation is tried; all failures are reported
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_server_is_healthy_after_the_fuzzing(running: Running) -> None:
    assert httpx.get(running.url + "/health", timeout=10).status_code == 200


# bounded by the example budget (about a minute and a half on two idle cores); the margin is
# for a machine busy with other work
pytestmark = pytest.mark.timeout(900)
