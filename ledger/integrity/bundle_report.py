"""What verifying a bundle concludes: the :class:`Verdict`, each :class:`Failure` found,
and the :class:`VerifyReport` that :func:`~ledger.integrity.bundle_verify.verify_bundle`
returns, plus :class:`FailureLog`, which collects failures while a pass runs.

Verdicts and exit codes: ``clean`` 0; ``tampered`` 1 (any hash, chain, signature, root
or proof mismatch, malformed or misplaced lines, positions missing, repeated or out of
order before the end, another key, a fork from the trusted checkpoint); ``incomplete``
2 (the bundle ends early — no trailer, or events missing at the end — or lacks a root or
proof needed to check something, or events not covered by a signature); ``error`` 3
(not a bundle of this format, unreadable input, or trusted inputs that contradict
themselves). When several apply, tampered wins over error, error over incomplete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

MAX_RECORDED_FAILURES = 100


class Verdict(StrEnum):
    CLEAN = "clean"
    TAMPERED = "tampered"
    INCOMPLETE = "incomplete"
    ERROR = "error"


EXIT_CODES = {Verdict.CLEAN: 0, Verdict.TAMPERED: 1, Verdict.INCOMPLETE: 2, Verdict.ERROR: 3}
_SEVERITY = {Verdict.CLEAN: 0, Verdict.INCOMPLETE: 1, Verdict.ERROR: 2, Verdict.TAMPERED: 3}


@dataclass(frozen=True, slots=True)
class Failure:
    """One problem found: what it means, why, and where (event position and/or line)."""

    verdict: Verdict
    reason: str
    position: int | None = None
    line: int | None = None


@dataclass(slots=True)
class VerifyReport:
    """The outcome of :func:`verify_bundle`.

    ``first_position`` and ``reason`` headline the findings of the worst kind (those
    that set the verdict): the lowest event position any of them names, or, if none
    names an event (a bad signature, a failing proof, another key), no position and the
    first such finding's reason. An edited event is named itself; a broken link names
    the event whose ``prev_hash`` no longer matches (the reason names the one before it
    too, since either may be the altered one), except that an event linking to the one
    two back names the inserted event between them; a re-hashed rewrite that keeps the
    chain intact is named by the first checkpoint size whose root differs.
    ``failures`` keeps the first 100 findings of any kind; ``failures_total`` counts all.
    ``signed_through`` is the largest tree size in the bundle's range whose computed root
    is authenticated by a signature (or the trusted checkpoint).
    """

    verdict: Verdict = Verdict.CLEAN
    exit_code: int = 0
    events: int = 0
    checkpoints: int = 0
    consistency_proofs: int = 0
    inclusion_proofs: int = 0
    after: int | None = None
    until: int | None = None
    last_position: int | None = None
    key_id: str | None = None
    key_pinned: bool = False
    signed_through: int | None = None
    first_position: int | None = None
    reason: str | None = None
    failures: list[Failure] = field(default_factory=list)
    failures_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["failures"] = [{**asdict(f), "verdict": str(f.verdict)} for f in self.failures]
        return data


def error_report(reason: str) -> VerifyReport:
    """The report of a verification that could not start: one ``error`` failure."""
    failure = Failure(Verdict.ERROR, reason)
    return VerifyReport(
        verdict=Verdict.ERROR, exit_code=3, reason=reason, failures=[failure], failures_total=1
    )


class FailureLog:
    """The failures of one pass: the first 100 kept, all counted, the worst remembered."""

    def __init__(self) -> None:
        self.items: list[Failure] = []
        self.total = 0
        self.worst = Verdict.CLEAN

    def add(
        self, verdict: Verdict, reason: str, position: int | None = None, line: int | None = None
    ) -> None:
        self.total += 1
        if _SEVERITY[verdict] > _SEVERITY[self.worst]:
            self.worst = verdict
        if len(self.items) < MAX_RECORDED_FAILURES:
            self.items.append(Failure(verdict, reason, position, line))

    def tampered(self, reason: str, position: int | None = None, line: int | None = None) -> None:
        self.add(Verdict.TAMPERED, reason, position, line)

    def incomplete(self, reason: str, position: int | None = None, line: int | None = None) -> None:
        self.add(Verdict.INCOMPLETE, reason, position, line)

    def conclude(self, report: VerifyReport) -> VerifyReport:
        """Write the verdict, the failures and the headline into ``report``."""
        report.verdict = self.worst
        report.exit_code = EXIT_CODES[self.worst]
        report.failures = self.items
        report.failures_total = self.total
        # The headline is the worst kind of finding: a missing signature on a tampered
        # bundle is a consequence, not the news.
        worst = [x for x in self.items if x.verdict == self.worst]
        positioned = [x for x in worst if x.position is not None]
        if positioned:
            first = min(positioned, key=lambda x: x.position or 0)
            report.first_position, report.reason = first.position, first.reason
        elif worst:
            report.reason = worst[0].reason
        return report
