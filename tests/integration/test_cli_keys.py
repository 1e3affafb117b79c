"""``ledger keys``: a header on the list, a warning for a writer bound to no party, a
refusal for a party the log has not registered. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ledger import cli
from ledger.bootstrap import Ledger
from ledger.settings import Settings
from tests import wire
from tests.integration.integrity_helpers import append


@pytest.fixture(autouse=True)
def _signing_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command builds its own settings: the same key file as the test's ledger (a
    # ledger seals its appends with it), and never data/ under the checkout.
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))


def keys(settings: Settings, *words: str) -> int:
    return cli.main(["--database", settings.database_url, "keys", *words])


def test_keys_list_has_a_header_row(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append(ledger, wire.reference_world())
    assert keys(settings, "create", "--name", "desk", "--role", "writer", "--party", "iq-army") == 0
    assert keys(settings, "create", "--name", "boss", "--role", "admin") == 0
    assert keys(settings, "revoke", "boss") == 0
    capsys.readouterr()
    assert keys(settings, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "PARTY", "CREATED", "STATE"]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("boss", "admin", "-", "revoked"),
        ("desk", "writer", "iq-army", "active"),
    ]


def test_keys_list_of_no_keys_says_how_to_make_one(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys(settings, "list") == 0
    out = capsys.readouterr()
    assert out.out.split() == ["NAME", "ROLE", "PARTY", "CREATED", "STATE"]
    assert "keys create --name NAME --role ROLE" in out.err


def test_a_writer_without_a_party_is_warned_it_may_report_as_anyone(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys(settings, "create", "--name", "loose", "--role", "writer") == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[-1].startswith("lk_")  # the key stays alone on the last line
    assert "warning: this writer key is bound to no party" in out.err
    assert "may report as ANY registered party" in out.err
    assert "--party" in out.err


@pytest.mark.parametrize("role", ["admin", "investigator"])
def test_other_roles_without_a_party_are_not_warned(
    ledger: Ledger, settings: Settings, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys(settings, "create", "--name", "k", "--role", role) == 0
    assert capsys.readouterr().err == ""


def test_a_key_for_an_unregistered_party_is_refused_with_a_suggestion(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append(ledger, wire.reference_world())
    args = ("create", "--name", "desk", "--role", "writer", "--party", "iq-armyy")
    assert keys(settings, *args) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip() == (
        "ledger: party 'iq-armyy' is not registered (did you mean iq-army?): a key bound "
        "to it could report as no one. Register the party first (a party_registered event, "
        "with an admin key), then make the key"
    )
    assert ledger.keys.list() == []  # nothing was made


def test_a_key_for_a_registered_party_is_made_without_a_warning(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append(ledger, wire.reference_world())
    args = ("create", "--name", "desk", "--role", "writer", "--party", "iq-9th")
    assert keys(settings, *args) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert "created key 'desk' with role writer for party iq-9th" in out.out
    assert [(k.name, k.party) for k in ledger.keys.list()] == [("desk", "iq-9th")]


def test_revoke_says_when_it_takes_effect_and_an_unknown_name_is_one_line(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys(settings, "create", "--name", "gone", "--role", "auditor") == 0
    capsys.readouterr()
    assert keys(settings, "revoke", "gone") == 0
    assert "revoked key 'gone': running servers refuse it within" in capsys.readouterr().out
    assert keys(settings, "revoke", "gone") == 2
    assert capsys.readouterr().err.strip() == "ledger: no active key named 'gone'"


def test_a_taken_key_name_is_refused_with_the_way_out(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys(settings, "create", "--name", "admin", "--role", "admin") == 0
    capsys.readouterr()
    assert keys(settings, "create", "--name", "admin", "--role", "admin") == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip() == (
        "ledger: a key named 'admin' exists: names stay taken, even once revoked; pick "
        "another (`ledger keys list` shows them)"
    )
