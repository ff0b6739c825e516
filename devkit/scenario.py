"""Registry fixtures built through the real contracts: methodologies, projects, monitoring
reports and credit batches at any stage of their flow.

Used by the benchmarks and the property tests, which need many batches quickly. Every object is
made by the seat whose role the contracts require (operator registers methodologies, regulator
approves, oracle nodes attest, the verifier verifies, the operator issues).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.structs import Location
from registry.categories import SinkCategory
from registry.ledger import Ledger
from registry.tickets import IssuedTicket, Tickets

DAY = 86_400
PERIOD = 30 * DAY
BASE_TIME = 1_577_836_800  # 2020-01-01T00:00:00Z
CREDITING_YEARS = 40

# Maowei Sea mangroves, Qinzhou, Guangxi (division code 450702).
MAOWEI = Location(450702, 21_783_000, 108_562_000, 2_500_000, keccak(text="maowei-boundary"))


# What a scenario methodology of each sink category is called (the seeds' cases).
METHODOLOGY_NAMES: dict[SinkCategory, str] = {
    SinkCategory.MANGROVE: "红树林营造 Mangrove restoration",
    SinkCategory.SEAGRASS: "海草床修复 Seagrass bed restoration",
    SinkCategory.SALT_MARSH: "盐沼修复 Salt marsh restoration",
    SinkCategory.MACROALGAE: "大型藻类养殖碳汇 Macroalgae farming sediment and RDOC carbon",
    SinkCategory.SHELLFISH: "贝类养殖碳汇 Shellfish farming sediment carbon",
    SinkCategory.FOREST: "森林经营碳汇 Forest carbon-stock increment",
    SinkCategory.SOIL_WATER_CONSERVATION: "水土保持碳汇 Soil and water conservation carbon",
}


def parcel(n: int) -> Location:
    """The n-th parcel of the Maowei Sea: a parcel (boundary) belongs to one active project."""
    return replace(MAOWEI, boundary_hash=keccak(text=f"maowei-boundary/{n}"))

ProjectStage = Literal["registered", "validated", "approved"]
ReportStage = Literal["pending", "attested", "verified"]
DisturbanceStage = Literal["pending", "attested", "confirmed"]


def doc(tag: str) -> bytes:
    """A recognisable non-zero 32-byte document hash."""
    return keccak(text=tag)


@dataclass(frozen=True)
class Batch:
    """An issued batch and where it came from."""

    methodology_id: int
    project_id: int
    report_id: int
    batch_id: int
    issued: int
    buffer: int
    developer: str

    @property
    def developer_share(self) -> int:
        return self.issued - self.buffer


class Scenario:
    """Builds fixtures on one chain state; periods of a project are allocated in order.

    Use one `Scenario` per chain state: after an `evm_revert`, start a new one (or keep using
    one whose objects were all created after the snapshot).
    """

    def __init__(self, ledger: Ledger, accounts: dict[str, LocalAccount]) -> None:
        self.ledger = ledger
        self.acc = accounts
        # methodology codes are unique on chain: continue after those already registered, so
        # several builders can share a chain state
        self._codes = int(ledger.chain.call(
            ledger.c("MethodologyRegistry").functions.methodologyCount()))
        self._next_period: dict[int, int] = {}
        self._tags = 0

    def fork(self) -> Scenario:
        """An independent builder that continues from this one's counters: for work done after
        a chain snapshot that will be reverted, while this builder stays valid for the
        snapshot's state."""
        other = Scenario(self.ledger, self.acc)
        other._codes, other._tags = self._codes, self._tags
        other._next_period = dict(self._next_period)
        return other

    def _tag(self, kind: str) -> str:
        self._tags += 1
        return f"{kind}-{self._tags}"

    # -- methodologies and projects --------------------------------------------------------

    def methodology(self, buffer_bps: int = 1_000, approve: bool = True,
                    category: SinkCategory = SinkCategory.MANGROVE) -> int:
        """A methodology of `category` (the Maowei Sea's mangroves by default) registered by the
        operator and (by default) approved by the regulator."""
        self._codes += 1
        code = f"CM-BC-{self._codes:03d}-V01"
        m = self.ledger.register_methodology(
            self.acc["operator"], code, METHODOLOGY_NAMES[category], doc(code),
            doc(code + "/params"), buffer_bps, category,
        )
        if approve:
            self.ledger.approve_methodology(self.acc["regulator"], m.id)
        return m.id

    def project(self, methodology_id: int, developer: str = "developer",
                stage: ProjectStage = "approved", division_code: int | None = None,
                parcels: tuple[str, ...] = ()) -> int:
        """A project of `developer` carried to `stage`, on a parcel of its own (numbered after
        the projects already registered, so several builders can share a chain state); in the
        Maowei Sea (450702) unless another administrative division is given. `parcels`: the
        forest-right certificates its boundary takes in, declared before validation."""
        count = int(self.ledger.chain.call(
            self.ledger.c("ProjectRegistry").functions.projectCount()))
        location = parcel(count + 1)
        if division_code is not None:
            location = replace(location, division_code=division_code)
        p = self.ledger.register_project(
            self.acc[developer], "钦州茅尾海红树林修复 Maowei Sea mangrove restoration",
            methodology_id, location, BASE_TIME,
            BASE_TIME + CREDITING_YEARS * 365 * DAY, doc(self._tag("pdd")),
        )
        if parcels:
            self.ledger.declare_parcels(self.acc[developer], p.id, list(parcels))
        if stage in ("validated", "approved"):
            self.ledger.validate_project(self.acc["verifier"], p.id, doc(self._tag("validation")))
        if stage == "approved":
            self.ledger.approve_project(self.acc["regulator"], p.id, doc(self._tag("approval")))
        return p.id

    # -- monitoring reports ----------------------------------------------------------------

    def period(self, project_id: int) -> tuple[int, int]:
        """The next unused monitoring period of a project."""
        k = self._next_period.get(project_id, 0)
        self._next_period[project_id] = k + 1
        return BASE_TIME + k * PERIOD, BASE_TIME + (k + 1) * PERIOD

    def report(self, project_id: int, quantity: int, stage: ReportStage = "verified",
               verified: int | None = None) -> int:
        """A report for the project's next period: one attestation (pending), two (attested,
        with the deployment's threshold of 2) and the verifier's signature (verified)."""
        start, end = self.period(project_id)
        # a root or report hash is attested for one report only: name them by project and period
        root = doc(f"root/{project_id}/{start}-{end}")
        rep = doc(f"report/{project_id}/{start}-{end}")
        nodes = ["oracle1"] if stage == "pending" else ["oracle1", "oracle2"]
        report_id = 0
        for node in nodes:
            report_id = self.ledger.attest(
                self.acc[node], project_id, start, end, root, quantity, rep
            ).id
        if stage == "verified":
            verification = doc(self._tag("verification"))
            self.ledger.verify_report(
                self.acc["verifier"], report_id, verified or quantity, verification
            )
        return report_id

    # -- disturbances ----------------------------------------------------------------------

    def event_time(self) -> int:
        """A distinct past time for a disturbance event."""
        self._tags += 1
        return BASE_TIME + self._tags * 3_600

    def disturbance(self, project_id: int, loss: int, stage: DisturbanceStage = "confirmed",
                    kind: int = 2, confirmed: int | None = None) -> int:
        """A disturbance of the project (a typhoon by default) attested by one node (pending),
        two (attested) and confirmed by the verifier (confirmed)."""
        at = self.event_time()
        evidence = doc(self._tag("evidence"))
        nodes = ["oracle1"] if stage == "pending" else ["oracle1", "oracle2"]
        disturbance_id = 0
        for node in nodes:
            disturbance_id = self.ledger.attest_disturbance(
                self.acc[node], project_id, kind, at, loss, evidence
            ).id
        if stage == "confirmed":
            self.ledger.confirm_disturbance(
                self.acc["verifier"], disturbance_id, confirmed or loss, doc(self._tag("stmt"))
            )
        return disturbance_id

    # -- batches ---------------------------------------------------------------------------

    def batch(self, quantity: int = 1_000_000_000, buffer_bps: int = 1_000,
              project_id: int | None = None, methodology_id: int | None = None,
              developer: str = "developer") -> Batch:
        """An issued batch; reuses `project_id` (next period) or makes a new project."""
        if project_id is None:
            methodology_id = methodology_id or self.methodology(buffer_bps)
            project_id = self.project(methodology_id, developer)
        else:
            info = self.ledger.chain.call(
                self.ledger.c("ProjectRegistry").functions.approvedProject(project_id)
            )
            methodology_id = int(info[1])
        report_id = self.report(project_id, quantity)
        batch_id = self.ledger.issue(self.acc["operator"], report_id).id
        b = self.ledger.batch(batch_id)
        developer_of = self.ledger.project(project_id).developer
        return Batch(methodology_id, project_id, report_id, batch_id, b.issued, b.buffer,
                     developer_of)

    # -- forest tickets --------------------------------------------------------------------

    def forest_parcel(self, owner: str = "developer") -> int:
        """An approved forest project (a parcel whose methodology's sink category is forest) of
        `owner`, ready for monitoring reports to be ticketed."""
        return self.project(self.methodology(category=SinkCategory.FOREST), owner)

    def forest_report(self, quantity: int, project_id: int | None = None,
                      owner: str = "developer") -> tuple[int, int]:
        """A verified report of a forest parcel (new unless `project_id` is given): (project,
        report)."""
        project = project_id if project_id is not None else self.forest_parcel(owner)
        return project, self.report(project, quantity)

    def ticket(self, quantity: int, project_id: int | None = None, owner: str = "developer",
               rights_certificate: str | None = None) -> IssuedTicket:
        """A ticket issued by the forestry seat from a verified forest report (its parcel's next
        period), with the parcel's forest-right certificate number (made up per parcel unless
        given)."""
        project, report = self.forest_report(quantity, project_id, owner)
        certificate = rights_certificate or f"闽(2024)三明市林权第{project:07d}号"
        return Tickets(self.ledger).issue(self.acc["forestry"], report, certificate)
