"""Render ``benchmarks/RESULTS.md`` from the measurements of one run."""

from __future__ import annotations

from typing import Any


def _n(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def _write(w: dict[str, Any]) -> list[str]:
    out = [
        "## Write path (foundation)",
        "",
        "Events/s, median of the runs (all runs in brackets). HTTP numbers are against a real",
        "`ledger serve` process over loopback, the load generator a separate process.",
        "",
        "| measurement | PostgreSQL | SQLite |",
        "|---|---|---|",
    ]
    keys = [
        ("direct_single_save", "eventsourcing direct save, one event per save (baseline)"),
        ("http_single_c1", "HTTP single appends, 1 client"),
        ("http_single_c8", "HTTP single appends, 8 clients"),
        ("http_single_c32", "HTTP single appends, 32 clients"),
        ("http_batch_1000", "HTTP batches of 1000"),
        ("raw_executemany_1000", "raw psycopg executemany, 1000 rows per commit"),
        ("raw_autocommit_c1", "raw psycopg INSERT per transaction, 1 connection"),
        ("raw_autocommit_c32", "raw psycopg INSERT per transaction, 32 connections"),
        ("api_processes", "API processes"),
    ]
    for key, label in keys:
        cells = []
        for backend in ("postgres", "sqlite"):
            v = w.get(backend, {}).get(key)
            cells.append("—" if v is None else f"{_n(v[0])} ({', '.join(_n(x) for x in v[1])})")
        out.append(f"| {label} | {cells[0]} | {cells[1]} |")
    pg = {k: v[0] for k, v in w.get("postgres", {}).items()}
    lite = {k: v[0] for k, v in w.get("sqlite", {}).items()}
    out += [
        "",
        "Ratios (same run):",
        "",
        f"- PostgreSQL, HTTP singles at 32 clients ÷ direct single save: "
        f"**{_ratio(pg.get('http_single_c32', 0), pg.get('direct_single_save', 0))}** (target ≥ 2×)",
        f"- PostgreSQL, HTTP batches ÷ raw executemany: "
        f"**{_ratio(pg.get('http_batch_1000', 0), pg.get('raw_executemany_1000', 0))}** (target ≥ 0.5×)",
        f"- PostgreSQL, HTTP singles at 32 clients ÷ raw INSERT per transaction, 1 connection: "
        f"**{_ratio(pg.get('http_single_c32', 0), pg.get('raw_autocommit_c1', 0))}** (target ≥ 1×)",
        f"- SQLite, HTTP singles at 32 clients ÷ direct single save: "
        f"{_ratio(lite.get('http_single_c32', 0), lite.get('direct_single_save', 0))}",
        "",
    ]
    return out


def _custody(c: dict[str, Any]) -> list[str]:
    lat = [
        ("asset_now", "`GET /v1/assets/{id}`, current", 10),
        ("timeline_now", "`GET /v1/assets/{id}/timeline`, current (stored)", 10),
        ("timeline_now_folded", "the same, folded per read (before the warmer ran)", None),
        ("asset_past", "`GET /v1/assets/{id}` with as_of + known_at", 25),
        ("timeline_past", "`…/timeline` with as_of + known_at", 25),
    ]
    out = [
        "## Custody projections",
        "",
        f"A ledger of {c['events']:,} events over {c['assets']:,} assets on PostgreSQL "
        f"(head position {c['head']:,}), generated through the appender in "
        f"{c['generate_seconds']:.0f} s.",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        f"| eventsourcing read + decode (notifications → domain events), median of 3 | {_n(c['read_decode_per_s'])}/s | |",
        f"| projection catch-up | {_n(c['catch_up_per_s'])}/s = **{c['catch_up_ratio']:.2f}×** read+decode | ≥ 0.3× |",
        f"| full rebuild | {c['rebuild_seconds']:.0f} s ({_n(c['rebuild_per_s'])}/s) | < 60 s |",
    ]
    if "warm_timelines_seconds" in c:
        out.append(
            f"| timeline warmer after the rebuild ({c['warm_timelines']:,} assets) | "
            f"{c['warm_timelines_seconds']:.0f} s | |"
        )
    for key, label, target in lat:
        if key not in c:
            continue
        v = c[key]
        goal = "" if target is None else f"p99 < {target} ms"
        out.append(f"| {label} p50 / p99 | {v['p50_ms']:.1f} / **{v['p99_ms']:.1f} ms** | {goal} |")
    out.append(
        f"| API process memory (RSS) after the reads | {c['api_rss_mb']:.0f} MB | < 300 MB |"
    )
    out.append("")
    return out


def _findings(f: dict[str, Any]) -> list[str]:
    """Both ledgers side by side (the realistic world, the one-day-dated stress ledger);
    an older results file holds the stress ledger alone, unnamed."""
    variants = {k: v for k, v in f.items() if isinstance(v, dict)} or {"stress": f}
    names = list(variants)
    out = [
        "## Findings",
        "",
        "Ledgers on PostgreSQL, every asset under one contract (their sizes in the first "
        "row): **realistic** is the realistic world "
        "(`ledger.worlds.realistic`, seed 1: late reports, amendments, inventories, "
        "reference changes), and **realistic-2m** the same world at the size its first row "
        "gives (issue #11's growth run); **stress** the one-day-dated ledger of earlier runs (2% "
        "captures by an unauthorised party; every event dated 2015, one late-recording "
        "finding each). The findings worker catches up in a process of its own (its peak "
        "RSS is the worker's); a restart is a new process appending one event and catching "
        "up. Partitioned: every finding forgotten, then worker processes judge the log in "
        "two partitions and the contract level, leased (wall time to the contract "
        "level's end; both cores of the machine, shared with PostgreSQL); the stored rows "
        "are checked equal to one walk's.",
        "",
        "| measurement | " + " | ".join(names) + " | target |",
        "|---|" + "---|" * len(names) + "---|",
    ]

    def row(label: str, cell: Any, target: str = "") -> str:
        cells = []
        for n in names:
            try:
                cells.append(cell(variants[n]))
            except KeyError:
                cells.append("—")
        return f"| {label} | " + " | ".join(cells) + f" | {target} |"

    out += [
        row("events / assets", lambda v: f"{_n(v['events'])} / {_n(v['assets'])}"),
        row("findings in the store", lambda v: _n(v["findings_total"])),
        row("custody projection catch-up", lambda v: f"{_n(v['custody_catch_up_per_s'])}/s"),
        row(
            "findings projection catch-up",
            lambda v: (
                f"{_n(v['findings_catch_up_per_s'])}/s = "
                f"**{v['findings_vs_custody']:.2f}×** custody"
            ),
            "≥ 5,000/s and ≥ 0.5×",
        ),
        row(
            "findings worker peak RSS",
            lambda v: f"**{_n(v['findings_worker_max_rss_mb'])} MB**",
            "≤ 500 MB",
        ),
        row(
            "partitioned (`LEDGER_FINDINGS_PARTITIONS`), one worker: catch-up (peak RSS)",
            lambda v: f"{_n(v['partitioned_1_per_s'])}/s ({_n(v['partitioned_1_max_rss_mb'])} MB)",
        ),
        row(
            "partitioned, two worker processes: catch-up (peak RSS of one)",
            lambda v: f"{_n(v['partitioned_2_per_s'])}/s ({_n(v['partitioned_2_max_rss_mb'])} MB)",
        ),
        row(
            "two partitioned workers ÷ one walk (÷ one partitioned worker)",
            lambda v: (
                f"**{v['two_workers_vs_one_walk']:.2f}×** "
                f"({v['partitioned_2_per_s'] / v['partitioned_1_per_s']:.2f}×)"
            ),
            "≥ 1.5×",
        ),
        row(
            "one worker within a memory budget (`LEDGER_FINDINGS_RESIDENT_EVENTS`, one "
            "partition at a time): catch-up (peak RSS) ÷ one walk",
            lambda v: (
                f"{v['budgeted_partitions']} partitions: {_n(v['budgeted_per_s'])}/s "
                f"(**{_n(v['budgeted_max_rss_mb'])} MB**) = "
                f"{v['budgeted_per_s'] / v['findings_catch_up_per_s']:.2f}×"
            ),
            "≤ 500 MB",
        ),
        row(
            "restart of that worker: one append at the log's last instant, lag 0",
            lambda v: f"**{v['budgeted_restart_frontier_s']:.1f} s**",
            "< 10 s",
        ),
        row(
            "the same, the append dated now (the realistic world ends in 2017: years of"
            " findings come due in the batch)",
            lambda v: f"{v['budgeted_restart_s']:.1f} s",
        ),
        row(
            "restart: new process, one append, lag 0",
            lambda v: f"**{v['restart_s']:.1f} s** ({_n(v['restart_max_rss_mb'])} MB)",
            "< 10 s",
        ),
        row(
            "restart resuming from the whole stored log (as before decision 0016), same run",
            lambda v: (
                f"{v['restart_full_s']:.1f} s ({_n(v['restart_full_max_rss_mb'])} MB) = "
                f"{v['restart_full_vs_lazy']:.1f}× the lazy restart"
            ),
        ),
        row(
            "restart of two partitioned workers: one append, lag 0",
            lambda v: f"**{v['partitioned_restart_s']:.1f} s**",
            "< 10 s",
        ),
        row(
            "the same, resuming from the whole stored log (as before decision 0016)",
            lambda v: f"{v['partitioned_restart_full_s']:.1f} s",
        ),
        row(
            "`GET /v1/findings`, page of 100, p50 / p99",
            lambda v: f"{v['findings_p50_ms']:.1f} / **{v['findings_p99_ms']:.1f} ms**",
            "p99 < 50 ms",
        ),
        row(
            "contract report, JSON (bytes)",
            lambda v: f"**{v['report_seconds']:.2f} s** ({_n(v['report_bytes'])})",
            "< 2 s",
        ),
        row(
            "contract report, printable HTML (bytes)",
            lambda v: f"**{v['report_html_seconds']:.2f} s** ({_n(v['report_html_bytes'])})",
            "< 3 s",
        ),
        row(
            "`GET /v1/contracts/{id}` (compliance, bytes)",
            lambda v: f"**{v['contract_view_seconds']:.2f} s** ({_n(v['contract_view_bytes'])})",
            "< 0.5 s",
        ),
        row("report: longest list (paged by 1,000)", lambda v: _n(v["report_longest_list"])),
    ]
    return [*out, ""]


def _integrity(i: dict[str, Any]) -> list[str]:
    out = [
        "## Integrity",
        "",
        "Median of the runs; the unit of each row says what was measured.",
        "",
        "| measurement | median | unit |",
        "|---|---|---|",
    ]
    units = i.get("units", {})
    for name, value in i.get("measurements", {}).items():
        median = value[0] if isinstance(value, list | tuple) else value
        shown = f"{median * 1000:.1f} ms" if name.endswith("_s") and median < 10 else _n(median)
        out.append(f"| {name} | {shown} | {units.get(name, '')} |")
    out += [
        "",
        f"- Offline verify target ≥ {_n(i.get('verify_target_events_per_s', 0))} events/s on one core: "
        f"**{'met' if i.get('verify_target_met') else 'missed'}**.",
        f"- Checkpoint after 1,000 new events < {i.get('checkpoint_target_s', 0) * 1000:.0f} ms: "
        f"**{'met' if i.get('checkpoint_target_met') else 'missed'}**.",
        "- pymerkle time ÷ ours (same run): "
        + ", ".join(
            f"{k} {v:.2f}×" for k, v in i.get("ratios_pymerkle_time_over_ours", {}).items()
        ),
        "",
    ]
    return out


def _generic(name: str, data: Any) -> list[str]:
    out = [f"## {name}", "", "| measurement | value |", "|---|---|"]
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(f"| {k} | {v if not isinstance(v, float) else _n(v)} |")
    out.append("")
    return out


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written {report['date']} on {report['machine']}; {report['runs']} runs per",
        "measurement where repeated. Machines are shared and noisy: compare ratios within",
        "a section (each section is one run), not absolute numbers across runs.",
        "Regenerate with `make bench`.",
        "",
    ]
    measured = report.get("measured") or {}
    if measured:
        lines += [
            "Sections measured: " + "; ".join(f"{k} {v}" for k, v in measured.items()) + ".",
            "",
        ]
    if "write" in report:
        lines += _write(report["write"])
    if "custody" in report:
        lines += _custody(report["custody"])
    if "findings" in report:
        lines += _findings(report["findings"])
    if "integrity" in report:
        lines += _integrity(report["integrity"])
    for key, value in report.items():
        if key not in (
            "write",
            "custody",
            "findings",
            "integrity",
            "date",
            "machine",
            "runs",
            "notes",
            "measured",
        ):
            lines += _generic(key, value)
    if report.get("notes"):
        lines += ["## Notes", "", *report["notes"], ""]
    return "\n".join(lines)
