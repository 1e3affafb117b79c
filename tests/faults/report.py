"""docs/faults.md: the figures of one run, rendered; nothing in it is written by hand."""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.faults.deploy import ROOT
from tests.faults.drop import DropResult
from tests.faults.kill import KillResult
from tests.faults.tamper import TamperResult

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class FuzzResult:
    backend: str
    max_examples: int
    exit_code: int | None = None
    summary: str = ""
    seconds: float = 0.0

    @property
    def requests(self) -> int | None:
        first = self.summary.splitlines()[0] if self.summary else ""
        words = first.split(": ", 1)[-1].split()
        return int(words[0]) if words and words[0].isdigit() else None


@dataclass
class Run:
    command: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0
    kill: list[KillResult] = field(default_factory=list)
    drop: list[DropResult] = field(default_factory=list)
    tamper: list[TamperResult] = field(default_factory=list)
    fuzz: list[FuzzResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    postgres_version: str = ""

    def failures(self) -> list[str]:
        out: list[str] = []
        for k in self.kill:
            out += [f"phase 1, {NAMES[k.backend]}: {p}" for p in _kill_problems(k)]
        for d in self.drop:
            out += [f"phase 2, {NAMES[d.backend]}: {p}" for p in _drop_problems(d)]
        for t in self.tamper:
            out += [f"phase 3, {NAMES[t.backend]}: {p}" for p in _tamper_problems(t)]
        for f in self.fuzz:
            if f.exit_code != 0:
                out.append(
                    f"phase 4, {NAMES[f.backend]}: the fuzzer reported failures (exit {f.exit_code})"
                )
            if (f.requests or 0) < 5000:
                out.append(f"phase 4, {NAMES[f.backend]}: {f.requests} requests, fewer than 5,000")
        out += [f"crashed: {c}" for c in self.crashed]
        return out


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except OSError:
        return ""


def machine() -> list[str]:
    commit = _git("rev-parse", "HEAD") or "unknown"
    diff = _git("diff", "HEAD")
    state = f"`{commit}`" + (
        f" plus uncommitted changes (`git diff HEAD` sha256 "
        f"{hashlib.sha256(diff.encode()).hexdigest()[:12]}), the working tree copied at the "
        "start of the run and every ledger process run from that copy"
        if diff
        else ""
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- machine: {os.cpu_count()} cores, `{platform.system()} {platform.release()}`, "
        f"Python {sys.version.split()[0]}; load average at the end {load}",
        f"- commit: {state}",
    ]


def _n(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _answers(c: Counter[str]) -> str:
    return ", ".join(f"{k}×{v:,}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _spread(xs: list[float]) -> str:
    if not xs:
        return "—"
    return f"median {statistics.median(xs):.1f}, worst {max(xs):.1f} (n={len(xs)})"


# --- phase 1 ------------------------------------------------------------------------------


def _kill_problems(k: KillResult) -> list[str]:
    out: list[str] = []
    if k.audit is None or k.integrity is None:
        return ["did not finish"]
    out += k.audit.problems()
    if k.integrity.checkpoint_exit != 0:
        out.append(
            f"`ledger checkpoint` exit {k.integrity.checkpoint_exit}: {k.integrity.checkpoint_said}"
        )
    if k.integrity.verify_exit != 0:
        out.append(
            f"`ledger verify --database` exit {k.integrity.verify_exit}: {k.integrity.verify_said}"
        )
    missed = k.convergence()[2]
    if missed:
        out.append(
            f"{missed} worker restarts did not reach lag 0 within {k.options.converge_timeout:.0f} s"
        )
    if k.final_converge is None:
        out.append("projections did not converge at the end")
    out += [f"{d} died without being killed" for d in k.died_by_themselves]
    if k.book and k.book.unexpected:
        out.append(f"unexpected answers, e.g. {k.book.unexpected[0]}")
    _, worst, _ = k.convergence()
    if worst is not None and worst > 30:
        out.append(f"projection convergence took up to {worst:.0f} s (target ≤ 30 s)")
    return out


def kill_section(results: list[KillResult]) -> list[str]:
    if not results:
        return ["Not run."]
    cols = [NAMES[k.backend] for k in results]
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, f: Callable[[KillResult], object]) -> None:
        rows.append((name, [str(f(k)) for k in results]))

    def kills(k: KillResult) -> str:
        c = Counter(r.target for r in k.rounds)
        text = ", ".join(f"{t} ×{n}" for t, n in sorted(c.items()))
        short = " (the time budget ran out first)" if k.budget_ran_out else ""
        return f"{len(k.rounds)} of {k.options.kills}: {text}{short}"

    def procs(k: KillResult) -> str:
        return (
            "1 `ledger serve` (projections in process)"
            if k.backend == "sqlite"
            else ("2 `ledger serve` + 1 `ledger project`")
        )

    row("processes", procs)
    row(
        "writers",
        lambda k: f"{k.options.writers} threads (httpx), singles and batches of 2–5 (30 %)",
    )
    row("kill -9 rounds", kills)
    row(
        "ledger size: seeded → final head",
        lambda k: f"{k.seed_head:,} → {k.audit.head:,}" if k.audit else "—",
    )
    row("appends sent", lambda k: f"{k.audit.appends:,}" if k.audit else "—")
    row("outcomes", lambda k: _answers(k.book.outcomes()) if k.book else "—")
    row(
        "acknowledged events (201/200 receipts)",
        lambda k: f"{k.audit.acked_events:,}" if k.audit else "—",
    )
    row("answers and client errors", lambda k: _answers(k.book.answers) if k.book else "—")
    row("**lost** acknowledged events", lambda k: len(k.audit.lost) if k.audit else "—")
    row(
        "**lying** receipts (position or hash differ)",
        lambda k: len(k.audit.lying) if k.audit else "—",
    )
    row("**partial** batches", lambda k: len(k.audit.partial_batches) if k.audit else "—")
    row(
        "events stored twice / position gaps",
        lambda k: f"{len(k.audit.stored_twice)} / {len(k.audit.gaps)}" if k.audit else "—",
    )
    row(
        "unacknowledged appends found stored",
        lambda k: (
            f"{k.audit.indeterminate_stored} of {k.audit.indeterminate_appends}" if k.audit else "—"
        ),
    )
    row(
        "killed API process: restart → /healthz, s",
        lambda k: _spread([r.restart for r in k.rounds if r.restart]),
    )
    row(
        "**projection convergence** after a kill of the worker: writers paused (once the "
        "process is back) → /readyz lag 0, s",
        lambda k: _spread([c for c in k.converges if c is not None]),
    )
    row(
        "the same from the worker's restart (the pause waits for appends in flight), s",
        lambda k: _spread([r.since_restart for r in k.worker_rounds if r.since_restart]),
    )
    row("slowest answer to an append, s", lambda k: _n(k.book.slowest if k.book else None))
    row("worker restarts not at lag 0 in time", lambda k: k.convergence()[2])
    row("initial catch-up of the seeded log, s", lambda k: _n(k.initial_catch_up))
    row("final convergence, writers paused, s", lambda k: _n(k.final_converge, 2))
    row(
        "`ledger checkpoint`",
        lambda k: (
            f"exit {k.integrity.checkpoint_exit}, {k.integrity.checkpoint_said}"
            if k.integrity
            else "—"
        ),
    )
    row(
        "`ledger verify --database`",
        lambda k: (
            f"exit {k.integrity.verify_exit}: {k.integrity.verify_said}" if k.integrity else "—"
        ),
    )
    row(
        "processes that died without being killed",
        lambda k: ", ".join(k.died_by_themselves) or "none",
    )
    row("phase time, s", lambda k: _n(k.seconds, 0))
    lines = _table(["", *cols], rows)
    sizes = [f"{NAMES[k.backend]} {k.audit.head:,}" for k in results if k.audit]
    worst = [w for w in (k.convergence()[1] for k in results) if w is not None]
    lines += [
        "",
        "Convergence target: ≤ 30 s on a 100,000-event ledger. This run's ledgers reached "
        + ", ".join(sizes)
        + " events; the worst convergence measured was "
        + (f"{max(worst):.1f} s." if worst else "not measured."),
    ]
    for k in results:
        lines += [
            "",
            f"Rounds on {NAMES[k.backend]} (s; head = the log's size at the restart):",
            "",
        ]
        lines += _table(
            [
                "#",
                "killed",
                "load before",
                "head",
                "restart → healthy",
                "restart → lag 0",
                "pause → lag 0",
            ],
            [
                (
                    str(i + 1),
                    [
                        r.target,
                        _n(r.load_before),
                        f"{r.head:,}",
                        _n(r.restart) if r.restart else "—",
                        _n(r.since_restart),
                        _n(r.converge),
                    ],
                )
                for i, r in enumerate(k.rounds)
            ],
        )
    return lines


# --- phase 2 ------------------------------------------------------------------------------


def _drop_problems(d: DropResult) -> list[str]:
    out = d.violations()
    if d.audit is None or d.integrity is None:
        return [*out, "did not finish"]
    out += d.audit.problems()
    if d.integrity.verify_exit != 0:
        out.append(
            f"`ledger verify --database` exit {d.integrity.verify_exit}: {d.integrity.verify_said}"
        )
    if d.recovered_appends is None:
        out.append("appends did not recover by themselves")
    if d.converge is None:
        out.append("projections did not converge after the terminations")
    out += [f"{x} died" for x in d.died_by_themselves]
    if d.book:
        out += [f"unexpected answer: {u}" for u in d.book.unexpected[:5]]
    return out


def drop_section(results: list[DropResult], backends: list[str]) -> list[str]:
    lines: list[str] = []
    if "sqlite" in backends:
        lines += [
            "SQLite: not applicable — an embedded database file has no server connections to "
            "terminate; a process losing its file handle is phase 1's kill.",
            "",
        ]
    if not results:
        return [*lines, "Not run on PostgreSQL."]
    for d in results:
        rows = [
            ("processes", ["2 `ledger serve` + 1 `ledger project`"]),
            ("duration under termination, s", [_n(d.options.duration, 0)]),
            (
                "termination rounds / backends terminated",
                [
                    f"{d.rounds} / {d.terminated:,} (every {d.options.every[0]}–{d.options.every[1]} s)"
                ],
            ),
            (
                "writers",
                [f"{d.options.writers} threads, client timeout {d.options.request_timeout:.0f} s"],
            ),
            ("appends sent", [f"{d.audit.appends:,}" if d.audit else "—"]),
            ("outcomes", [_answers(d.book.outcomes()) if d.book else "—"]),
            ("answers", [_answers(d.book.answers) if d.book else "—"]),
            (
                "**answers outside 201/200/409/503**, 503 without Retry-After, hangs",
                [", ".join(d.violations()) or "none"],
            ),
            ("slowest answer, s", [_n(d.book.slowest) if d.book else "—"]),
            ("acknowledged events", [f"{d.audit.acked_events:,}" if d.audit else "—"]),
            (
                "**lost** / **lying** receipts / partial batches",
                [
                    f"{len(d.audit.lost)} / {len(d.audit.lying)} / {len(d.audit.partial_batches)}"
                    if d.audit
                    else "—"
                ],
            ),
            (
                "appends recovered (last termination → a 201 from each API process), s",
                [_n(d.recovered_appends)],
            ),
            ("projections converged after that (writers paused → lag 0), s", [_n(d.converge)]),
            ("processes that died", [", ".join(d.died_by_themselves) or "none"]),
            (
                "`ledger verify --database`",
                [
                    f"exit {d.integrity.verify_exit}: {d.integrity.verify_said}"
                    if d.integrity
                    else "—"
                ],
            ),
            ("phase time, s", [_n(d.seconds, 0)]),
        ]
        lines += _table(["", NAMES[d.backend]], rows)
    return lines


# --- phase 3 ------------------------------------------------------------------------------


def _tamper_problems(t: TamperResult) -> list[str]:
    out: list[str] = []
    if t.control is None or t.control.exit_code != 0:
        out.append(f"the untouched copy did not verify clean: {t.control}")
    for c in t.cases:
        if not c.detected:
            out.append(
                f"'{c.name}' not detected: exit {c.exit_code} ({c.verdict}) {c.reason[:200]}"
            )
        elif not c.located:
            out.append(f"'{c.name}' named position {c.named}, expected {c.expected}")
    if not t.proof.control_passes:
        out.append("the untouched inclusion proof did not verify")
    if t.proof.refused != t.proof.forged:
        out.append(f"{t.proof.forged - t.proof.refused} forged proofs accepted")
    return out


def tamper_section(results: list[TamperResult]) -> list[str]:
    if not results:
        return ["Not run."]
    lines: list[str] = []
    for t in results:
        rate = 100.0 * t.detected / t.total if t.total else 0.0
        lines += [
            f"**{NAMES[t.backend]}** — a ledger of {t.events:,} events with checkpoints at "
            f"{t.checkpoints[0]:,} and {t.checkpoints[1]:,}, one copy per case, checked with "
            f"{t.via}. Detection rate **{t.detected}/{t.total} = {rate:.0f} %**; phase time "
            f"{t.seconds:.0f} s.",
            "",
        ]
        cases = [t.control] if t.control else []
        cases += t.cases
        lines += _table(
            [
                "case",
                "tampering",
                "position tampered",
                "exit",
                "first bad position named",
                "as expected",
                "reason given",
            ],
            [
                (
                    c.name,
                    [
                        c.what,
                        "—" if c.tampered is None else f"{c.tampered:,}",
                        f"{c.exit_code} ({c.verdict})",
                        "—" if c.named is None else f"{c.named:,}",
                        _expectation(c.name, c.expected, c.named, c.exit_code),
                        c.reason[:160].replace("|", "/") or "—",
                    ],
                )
                for c in cases
            ],
        )
        p = t.proof
        lines += [
            "",
            f"Forged inclusion proof: the proof of event {p.event_position:,} in checkpoint "
            f"{p.tree_size:,} ({p.proof_hashes} hashes), written to a file; the untouched file "
            f"{'verifies' if p.control_passes else 'does NOT verify'} "
            "(`verify_checkpoint` on its checkpoint, `verify_inclusion` on its path); "
            f"{p.forged} copies with one hash changed each: {p.refused} refused.",
            "",
        ]
    return lines


def _expectation(
    name: str, expected: tuple[int, int] | None, named: int | None, code: int | None
) -> str:
    if name == "control":
        return "yes" if code == 0 else "**no**"
    if code != 1:
        return "**not detected**"
    if expected is None:
        return "yes (no event to name)"
    lo, hi = expected
    want = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
    ok = named is not None and lo <= named <= hi
    return ("yes" if ok else "**no**") + f" (want {want})"


# --- phase 4 ------------------------------------------------------------------------------


def fuzz_section(results: list[FuzzResult]) -> list[str]:
    if not results:
        return ["Not run."]
    lines: list[str] = []
    for f in results:
        lines += [
            f"**{NAMES[f.backend]}**: `tests.faults.fuzz.main({f.backend!r}, {f.max_examples})`, "
            f"exit {f.exit_code}, {f.requests if f.requests is not None else '?'} requests, {f.seconds:.0f} s.",
            "",
            "```",
            f.summary.strip() or "(no summary)",
            "```",
            "",
        ]
    return lines


# --- the page -----------------------------------------------------------------------------


def _table(head: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join([name, *cells]) + " |" for name, cells in rows]
    return out


def render(run: Run, backends: list[str]) -> str:
    failures = run.failures()
    lines = [
        "# Fault injection: kill -9, dropped connections, tampering, fuzzing",
        "",
        f"Written by `{run.command}` (`make faults`); every figure below is from that run.",
        "Regenerate it with `make faults`; do not edit it by hand.",
        "",
        f"- date: {run.started:%Y-%m-%d %H:%M} UTC, run time {run.seconds / 60:.1f} min",
        *machine(),
        f"- PostgreSQL: {run.postgres_version or 'not used'}",
        f"- backends: {', '.join(NAMES[b] for b in backends)}; everything on 127.0.0.1",
        "",
        "## Verdict",
        "",
    ]
    if failures:
        lines += [f"{len(failures)} properties failed:", ""] + [f"- {f}" for f in failures]
    else:
        lines += ["Every property held."]
    lines += [f"- skipped: {s}" for s in run.skipped]
    lines += [
        "",
        "## 1. kill -9 under load",
        "",
        "Writer threads append single events and batches through the API processes; at "
        "random moments one process (an API process or the projection worker) is killed "
        "with SIGKILL and started again. A request that got no answer is retried with the "
        "same event ids until a 201/200 (acknowledged) or a 30 s deadline (unacknowledged). "
        "After a kill of the worker the writers pause and the time until `/readyz` reports "
        "lag 0 is taken. Afterwards every receipt is compared with the stored row at its "
        "position, batches must be all-or-none, then `ledger checkpoint` and `ledger verify "
        "--database` run.",
        "",
        *kill_section(run.kill),
        "",
        "## 2. dropped database connections",
        "",
        "While writers append, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "datname = current_database() AND pid <> pg_backend_pid()` runs at random intervals. "
        "Writers retry a 503 after its Retry-After (at most 1 s).",
        "",
        *drop_section(run.drop, backends),
        "",
        "## 3. tampering by direct SQL",
        "",
        *tamper_section(run.tamper),
        "",
        "## 4. fuzzing (schemathesis)",
        "",
        *fuzz_section(run.fuzz),
    ]
    if run.crashed:
        lines += ["", "## Harness errors", ""] + [f"- {c}" for c in run.crashed]
    return "\n".join(lines).rstrip() + "\n"
