"""Progress on stderr: a redrawn bar on a terminal; into a pipe or a CI log, a whole line
now and then and one at the end, never ``\\r`` fragments; nothing with ``--quiet``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ledger import cli
from ledger.cli import progress as progress_module
from ledger.cli.demo import demo_events
from ledger.cli.progress import PlainProgress, Progress, TerminalProgress, progress
from ledger.settings import Settings


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_pipe_gets_plain_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with progress("import", 10) as bar:
        assert isinstance(bar, TerminalProgress)
        bar.update(10)
    assert "\r" in terminal.getvalue()

    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with progress("import", 10) as bar:
        assert isinstance(bar, PlainProgress)
        bar.update(10)
    assert "\r" not in pipe.getvalue()
    with progress("import", 10, quiet=True) as bar:
        assert type(bar) is Progress
        bar.update(10)
    assert pipe.getvalue().count("\n") == 1


def test_plain_progress_writes_a_line_every_interval_and_one_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    with PlainProgress("export", 5000, out, every=10) as bar:
        for _ in range(5):
            bar.update(1000)  # at 0, 4, 8, 12 and 16 s: a line at 12 s, the next due at 22 s
            now[0] += 4
    assert out.getvalue().splitlines() == [
        "export: 4000/5000 events (80%)",
        "export: 5000 events in 20.0 s",
    ]


def test_import_into_a_pipe_reports_plain_lines(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    story = tmp_path / "story.ndjson"
    story.write_text("".join(f"{line}\n" for line in map(_json, demo_events())))
    assert cli.main(["--database", settings.database_url, "import", str(story)]) == 0
    out = capsys.readouterr()
    assert "\r" not in out.err
    assert out.err.startswith(f"import: {len(demo_events())} events in ")
    assert f"imported {story}: {len(demo_events())} new events" in out.out


def _json(event: object) -> str:
    import json

    return json.dumps(event)
