"""The oracle inbox (oracle/inbox.py), the one door for monitoring data used by the API and the
CLI alike: files written whole, an attested period final, every reading counted once, proofs
only from data that still has the attested root."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session

from core.db import make_engine, migrate, session_factory
from devkit import sample_data
from devkit.scenario import Scenario
from oracle.devices import DeviceRegistry
from oracle.inbox import Inbox, InboxError
from oracle.period import Period
from registry.ledger import Ledger
from tests.support.oracle_inbox import YEAR, node, write_sample

SPEC = {"code": sample_data.MANGROVE_PROJECT, "calculator": "blue_carbon",
        "ecosystem": "mangrove", "land_class": "mangrove",
        "area_ha": str(sample_data.MANGROVE_AREA_HA), "minimum_deduction_percent": "10"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), days=1)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def project(ledger: Ledger, acc: dict[str, LocalAccount]) -> int:
    s = Scenario(ledger, acc)
    return s.project(s.methodology())


def installed(tmp_path: Path, ledger: Ledger, session: Session, project: int,
              raw: Path) -> Inbox:
    inbox = Inbox(tmp_path / "inbox", ledger)
    inbox.install(session, project, SPEC, DeviceRegistry.load(raw / "devices.json"))
    return inbox


def fill(inbox: Inbox, session: Session, project: int, raw: Path, now: int) -> None:
    for name, src in (("readings.csv", "readings.csv"), ("scenes.json", "scenes.json"),
                      ("lab-samples.csv", "cores.csv")):
        inbox.submit(session, project, YEAR, name, (raw / src).read_bytes(), now)


def attested_by(inbox: Inbox, session: Session, project: int, raw: Path, ledger: Ledger,
                acc: dict[str, LocalAccount], state: Path, *seats: str) -> int:
    """The inbox filled with the sample files and the report attested by `seats`; its id."""
    fill(inbox, session, project, raw, now_of(ledger))
    for seat in seats:
        node(ledger, acc, seat, inbox.root, state).run_once()
    return ledger.report_of(project, YEAR.start, YEAR.end)


def now_of(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def test_a_file_is_stored_whole_and_leaves_no_temporary_file(
    tmp_path: Path, ledger: Ledger, session: Session, project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    body = (raw / "scenes.json").read_bytes()
    stored = inbox.submit(session, project, YEAR, "scenes.json", body, now_of(ledger))
    assert stored.kind == "scenes" and stored.result.total > 0
    period_dir = inbox.project_dir(project) / f"{YEAR.start}-{YEAR.end}"
    assert (period_dir / "scenes.json").read_bytes() == body
    assert sorted(p.name for p in period_dir.iterdir()) == ["scenes.json"]
    assert inbox.periods(project) == [YEAR]


def test_a_refused_file_changes_nothing(
    tmp_path: Path, ledger: Ledger, session: Session, project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    with pytest.raises(InboxError) as err:
        inbox.submit(session, project, YEAR, "readings.csv", b"\xff\xfe not text",
                     now_of(ledger))
    assert err.value.code == "unreadable_file"
    assert inbox.periods(project) == []


def test_data_of_an_attested_period_is_final(
    tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount], session: Session,
    project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    assert attested_by(inbox, session, project, raw, ledger, acc, tmp_path, "oracle1", "oracle2")
    with pytest.raises(InboxError) as err:
        inbox.submit(session, project, YEAR, "scenes-late.json",
                     (raw / "scenes.json").read_bytes(), now_of(ledger))
    assert err.value.code == "period_attested"
    assert not (inbox.project_dir(project) / f"{YEAR.start}-{YEAR.end}" /
                "scenes-late.json").exists()


def test_a_proof_comes_only_from_data_that_still_has_the_attested_root(
    tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount], session: Session,
    project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    report_id = attested_by(inbox, session, project, raw, ledger, acc, tmp_path,
                            "oracle1", "oracle2")
    proof = inbox.prove(report_id, "readings.csv", 1, now_of(ledger))
    assert ledger.verify_record(report_id, proof.record, list(proof.proof))
    with pytest.raises(InboxError) as err:
        inbox.prove(report_id, "readings.csv", 10**6, now_of(ledger))
    assert err.value.code == "record_not_found"

    scenes = inbox.project_dir(project) / f"{YEAR.start}-{YEAR.end}" / "scenes.json"
    rows = json.loads(scenes.read_text())
    scenes.write_text(json.dumps(rows[:-1]))  # tampered on disk after the attestation
    with pytest.raises(InboxError) as err:
        inbox.prove(report_id, "readings.csv", 1, now_of(ledger))
    assert err.value.code == "data_changed"


def test_a_proof_of_a_report_not_yet_attested_is_refused(
    tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount], session: Session,
    project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    report_id = attested_by(inbox, session, project, raw, ledger, acc, tmp_path,
                            "oracle1")  # 1 of 2 votes
    with pytest.raises(InboxError) as err:
        inbox.prove(report_id, "readings.csv", 1, now_of(ledger))
    assert err.value.code == "report_not_attested"


def test_a_device_of_another_project_is_refused_and_the_spec_is_not_installed(
    tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount], session: Session,
    project: int, raw: Path
) -> None:
    installed(tmp_path, ledger, session, project, raw)
    s = Scenario(ledger, acc)
    other = s.project(s.methodology())
    inbox = Inbox(tmp_path / "inbox", ledger)
    with pytest.raises(InboxError) as err:
        inbox.install(session, other, SPEC, DeviceRegistry.load(raw / "devices.json"))
    assert err.value.code == "device_registered_elsewhere"
    assert inbox.spec(other) is None and inbox.devices(other) is None


def test_concurrent_writers_of_one_file_leave_one_whole_version(
    tmp_path: Path, ledger: Ledger, session: Session, project: int, raw: Path
) -> None:
    inbox = installed(tmp_path, ledger, session, project, raw)
    rows = json.loads((raw / "scenes.json").read_text())
    bodies = [json.dumps(rows[: len(rows) - i]).encode() for i in range(4)]
    now = now_of(ledger)
    period = Period(YEAR.start, YEAR.end)
    # scenes need no session: each writer uses the same inbox from its own thread
    threads = [threading.Thread(target=inbox.submit, args=(session, project, period,
                                                          "scenes.json", b, now))
               for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = (inbox.project_dir(project) / f"{YEAR.start}-{YEAR.end}" / "scenes.json")
    assert stored.read_bytes() in bodies
