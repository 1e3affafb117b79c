"""The ``ledger`` command line over a real database: checkpoint, export and verify, with
the exit code of every verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ledger import cli
from ledger.bootstrap import Ledger
from ledger.integrity.checkpoints import Signer
from ledger.settings import Settings
from tests.integration.integrity_helpers import (
    more,
    populate,
    row,
    set_row,
)

# --- checkpoint, export and verify --------------------------------------------------


def test_cli_checkpoint_export_and_verify(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    url = settings.database_url
    n = populate(ledger, 40)
    assert cli.main(["--database", url, "checkpoint"]) == 0
    out = capsys.readouterr()
    cp_file = tmp_path / "cp.json"
    cp_file.write_text(out.out)
    assert json.loads(out.out)["tree_size"] == n
    key_b64 = ledger.integrity.key_info()["public_key"]
    assert key_b64 in out.err

    bundle = tmp_path / "bundle.ndjson"
    assert cli.main(["--database", url, "export", "-o", str(bundle), "--after", "3"]) == 0
    assert "export" in capsys.readouterr().err  # the progress bar is on stderr
    pinned = ["--public-key", key_b64, "--quiet"]
    assert cli.main(["verify", str(bundle), *pinned]) == 0
    assert "verdict: clean" in capsys.readouterr().out
    assert cli.main(["verify", str(bundle), *pinned, "--checkpoint", str(cp_file)]) == 0
    key_file = tmp_path / "key.txt"
    key_file.write_text(key_b64 + "\n")
    assert cli.main(["verify", str(bundle), "--public-key", str(key_file), "--quiet"]) == 0
    listing = tmp_path / "key.json"  # as saved from GET /v1/audit/checkpoints
    listing.write_text(json.dumps(ledger.integrity.list_checkpoints(None, 10)))
    assert cli.main(["verify", str(bundle), "--public-key", str(listing), "--quiet"]) == 0

    assert_bad_bundles_are_refused(tmp_path, bundle, pinned, capsys)

    capsys.readouterr()
    assert cli.main(["verify", "--database", url, *pinned]) == 0
    assert f"events: {n}" in capsys.readouterr().out
    more(ledger, 3)
    assert cli.main(["verify", "--database", url, *pinned]) == 2  # the new events are unsigned
    assert f"first failing event: {n + 1}" in capsys.readouterr().out
    set_row(ledger, 5, row(ledger, 5)[0].replace(b"2014", b"2015", 1))
    assert cli.main(["verify", "--database", url, "--quiet", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_position"] == 5


def assert_bad_bundles_are_refused(
    tmp_path: Path, bundle: Path, pinned: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each way a bundle goes wrong gets its exit code: 1 tampered, 2 incomplete, 3 error."""
    lines = bundle.read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "tampered.ndjson"
    target = next(i for i, line in enumerate(lines) if b'"position":25,' in line)
    lines_t = list(lines)
    lines_t[target] = lines_t[target].replace(b"reassignment", b"reassignmenT", 1)
    tampered.write_bytes(b"".join(lines_t))
    capsys.readouterr()
    assert cli.main(["verify", str(tampered), *pinned]) == 1
    assert "first failing event: 25" in capsys.readouterr().out

    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"".join(lines[:-5]))
    assert cli.main(["verify", str(cut), *pinned]) == 2
    other = Signer.generate().public_key_b64
    assert cli.main(["verify", str(bundle), "--public-key", other, "--quiet"]) == 1
    assert cli.main(["verify", str(tmp_path / "missing.ndjson"), "--quiet"]) == 3
    (tmp_path / "junk").write_text("hello\n")
    assert cli.main(["verify", str(tmp_path / "junk"), "--quiet"]) == 3
    assert cli.main(["verify", "--no-such-option"]) == 3
    assert cli.main(["verify", "--quiet"]) == 3


# --- what verify prints ----------------------------------------------------------------


def test_verify_with_another_public_key_names_both_keys_and_says_the_problem_once(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    populate(ledger, 5)
    bundle = tmp_path / "bundle.ndjson"
    assert cli.main(["--database", settings.database_url, "export", "-o", str(bundle)]) == 0
    ours = ledger.integrity.key_info()["key_id"]
    other = Signer.generate()
    capsys.readouterr()

    assert cli.main(["verify", str(bundle), "--public-key", other.public_key_b64, "--quiet"]) == 1
    out = capsys.readouterr().out
    # The bundle is signed by our key; the pinned key is the other one.
    assert f"key: {ours}, which is NOT the pinned key {other.key_id} (given with --public-key)" in (
        out
    )
    assert f"key: {ours} (pinned)" not in out
    headline = f"the bundle is signed by key {ours}, not by the trusted key {other.key_id}"
    assert out.count(headline) == 1, out
    assert f"problem: {headline}" in out
    assert "other findings (" in out  # the signature and coverage findings that follow

    pinned = ["--public-key", ledger.integrity.key_info()["public_key"], "--quiet"]
    assert cli.main(["verify", str(bundle), *pinned]) == 0
    assert f"key: {ours} (pinned)" in capsys.readouterr().out
    assert cli.main(["verify", str(bundle), "--quiet"]) == 0
    assert f"key: {ours} (not pinned: pass --public-key" in capsys.readouterr().out

    assert cli.main(["verify", str(bundle), "--public-key", other.public_key_b64, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["key_id"], report["pinned_key_id"]) == (ours, other.key_id)


def test_verify_database_with_another_public_key_names_the_key_that_signed(
    ledger: Ledger,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    n = populate(ledger, 5)
    ledger.integrity.checkpoint()
    ours = ledger.integrity.key_info()["key_id"]
    other = Signer.generate()
    url = settings.database_url
    args = ["verify", "--database", url, "--public-key", other.public_key_b64, "--quiet"]
    assert cli.main(args) != 0
    out = capsys.readouterr().out
    assert (
        f"note: the database's latest checkpoint ({n}) is signed by key {ours}, not by the "
        f"pinned key {other.key_id}: is --public-key this ledger's key?"
    ) in out
    lines = out.splitlines()
    headline = next(line for line in lines if line.startswith(("first failing", "problem:")))
    reason = headline.split(": ", 2)[-1]
    assert sum(reason in line for line in lines) == 1, out


def test_progress_in_a_pipe_is_plain_lines_without_carriage_returns(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    n = populate(ledger, 5)
    bundle = tmp_path / "bundle.ndjson"
    assert cli.main(["--database", settings.database_url, "export", "-o", str(bundle)]) == 0
    err = capsys.readouterr().err  # captured: not a terminal, as in a pipe or a CI log
    assert "\r" not in err
    assert re.search(rf"^export: {n} events in \d+\.\d s$", err, re.M), err
    assert cli.main(["verify", str(bundle)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert re.search(rf"^verify: {n} events in \d+\.\d s$", err, re.M), err
    assert cli.main(["verify", str(bundle), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
