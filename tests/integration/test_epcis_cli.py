"""``ledger export --format epcis`` and ``ledger import --format epcis``: the log as one
EPCIS document, captured whole into an empty ledger, a re-run replayed, a bad document
refused with nothing stored. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import cli
from ledger.bootstrap import Ledger
from ledger.cli.demo import load_demo
from ledger.epcis import mapping as mp
from ledger.epcis.schema import problems
from ledger.settings import Settings
from tests.faults.fuzz import database

SERVER_FIELDS = {"recorded_at", "recorded_by", "prev_hash"}


@pytest.fixture(autouse=True)
def _signing_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))


def _log(url: str, tmp_path: Path) -> list[dict[str, object]]:
    from ledger.bootstrap import build_ledger

    other = build_ledger(Settings(database_url=url, signing_key_file=tmp_path / "read.pem"))
    try:
        return [
            {k: v for k, v in s.record.items() if k not in SERVER_FIELDS}
            for s in other.lookups.read_log(0, 10_000)
        ]
    finally:
        other.close()


def test_export_then_import_gives_the_same_log_and_a_rerun_stores_nothing(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_demo(ledger)
    out = tmp_path / "story.jsonld"
    url = settings.database_url
    assert (
        cli.main(["--database", url, "export", "--format", "epcis", "-o", str(out), "--quiet"]) == 0
    )
    doc = json.loads(out.read_text())
    assert list(problems(doc)) == []
    assert len(doc["epcisBody"]["eventList"]) == ledger.lookups.head()[0]
    assert not out.with_name(out.name + ".partial").exists()
    backend = "postgres" if url.startswith("postgresql") else "sqlite"
    with database(backend) as empty:
        words = ["--database", empty, "import", "--format", "epcis", str(out), "--quiet"]
        assert cli.main(words) == 0
        assert f"{ledger.lookups.head()[0]} new events, 0 already stored" in capsys.readouterr().out
        assert cli.main(words) == 0
        assert "0 new events" in capsys.readouterr().out
        mine = [
            {k: v for k, v in s.record.items() if k not in SERVER_FIELDS}
            for s in ledger.lookups.read_log(0, 10_000)
        ]
        assert _log(empty, tmp_path) == mine


def test_export_takes_a_range_of_positions(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    load_demo(ledger)
    out = tmp_path / "part.jsonld"
    words = ["--database", settings.database_url, "export", "--format", "epcis"]
    assert cli.main([*words, "--after", "10", "--until", "15", "-o", str(out), "--quiet"]) == 0
    events = json.loads(out.read_text())["epcisBody"]["eventList"]
    positions = [e.get("errorDeclaration", e)[mp.POSITION] for e in events]
    assert positions == [11, 12, 13, 14, 15]


def test_a_bad_document_is_refused_whole_naming_the_field(
    ledger: Ledger, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_demo(ledger)
    out = tmp_path / "story.jsonld"
    url = settings.database_url
    assert (
        cli.main(["--database", url, "export", "--format", "epcis", "-o", str(out), "--quiet"]) == 0
    )
    doc = json.loads(out.read_text())
    doc["epcisBody"]["eventList"][3]["eventTime"] = "not a time"
    out.write_text(json.dumps(doc))
    before = ledger.lookups.head()[0]
    assert cli.main(["--database", url, "import", "--format", "epcis", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nothing stored" in err and "epcisBody.eventList[3].eventTime" in err
    assert ledger.lookups.head()[0] == before
