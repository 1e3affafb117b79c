"""How ``ledger verify`` prints its report for a person.

The headline problem is printed once: the list below it holds only the other
findings. The key line tells the key the bundle (or database) is signed by apart from
the key the user pinned with ``--public-key``: the report's ``key_id`` is the
former, and ``key_pinned`` says only that some key was pinned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.integrity.bundle_report import Failure, VerifyReport

SHOWN_FAILURES = 10


def key_line(report: VerifyReport, pinned_key_id: str | None) -> str:
    if not report.key_pinned or pinned_key_id is None:
        return (
            f"key: {report.key_id} (not pinned: pass --public-key with the ledger's published key)"
        )
    if report.key_id == pinned_key_id:
        return f"key: {report.key_id} (pinned)"
    return (
        f"key: {report.key_id}, which is NOT the pinned key {pinned_key_id} "
        "(given with --public-key)"
    )


def report_lines(
    report: VerifyReport, source: str, pinned_key_id: str | None, notes: list[str] | None = None
) -> list[str]:
    lines = [f"source: {source}", f"verdict: {report.verdict} (exit {report.exit_code})"]
    if report.until is not None and report.after is not None:
        span = (
            f"positions {report.after + 1}..{report.last_position}"
            if report.events
            else "no events"
        )
        lines.append(f"events: {report.events} ({span}; range {report.after + 1}..{report.until})")
    signed = report.signed_through if report.signed_through is not None else "nothing"
    lines.append(
        f"checkpoints: {report.checkpoints}, consistency proofs: {report.consistency_proofs}, "
        f"inclusion proofs: {report.inclusion_proofs}, signed through: {signed}"
    )
    if report.key_id:
        lines.append(key_line(report, pinned_key_id))
    lines.extend(f"note: {note}" for note in notes or [])
    if report.verdict == "clean":
        return lines
    if report.first_position is not None:
        lines.append(f"first failing event: {report.first_position}: {report.reason}")
    else:
        lines.append(f"problem: {report.reason}")
    others = _others(report)
    if others:
        total = report.failures_total - (len(report.failures) - len(others))
        lines.append(f"other findings ({total}):")
        for f in others[:SHOWN_FAILURES]:
            lines.append(f"  - {_failure(f)}")
        if total > SHOWN_FAILURES:
            lines.append(f"  … {total - SHOWN_FAILURES} more (--json lists the first 100)")
    return lines


def _others(report: VerifyReport) -> list[Failure]:
    """The failures without the one the headline already printed."""
    failures = list(report.failures)
    for i, f in enumerate(failures):
        if f.reason == report.reason and f.position == report.first_position:
            return failures[:i] + failures[i + 1 :]
    return failures


def _failure(f: Failure) -> str:
    where = ", ".join(
        part
        for part in (
            f"event {f.position}" if f.position is not None else "",
            f"line {f.line}" if f.line is not None else "",
        )
        if part
    )
    return f"{f.verdict}{' (' + where + ')' if where else ''}: {f.reason}"
