"""``ledger demo``: the pages to open at the server's real address, loading twice, and a
database that already holds some of the story's ids. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import cli
from ledger.bootstrap import Ledger
from ledger.cli.demo import PAGES, browser_base, demo_events
from ledger.settings import Settings
from tests import wire
from tests.integration.integrity_helpers import append, head


@pytest.fixture(autouse=True)
def _signing_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command builds its own settings: the same key file as the test's ledger (a
    # ledger seals its appends with it), and never data/ under the checkout.
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))


def demo(settings: Settings, *words: str) -> int:
    return cli.main(["--database", settings.database_url, "demo", *words])


def test_demo_prints_the_ui_pages_at_the_configured_address(
    ledger: Ledger,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_HOST", "127.0.0.2")
    monkeypatch.setenv("LEDGER_PORT", "8123")
    assert demo(settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo loaded into ")
    assert f"{len(demo_events())} new events" in out
    links = [line.split()[0] for line in out.splitlines() if line.startswith("  http")]
    # Pages a browser opens, not JSON that needs an Authorization header.
    assert links == [f"http://127.0.0.2:8123{path}" for path, _ in PAGES]
    assert all(link.startswith("http://127.0.0.2:8123/ui/") for link in links)
    assert "while `ledger serve` runs at http://127.0.0.2:8123:" in out
    assert "/v1/" not in out
    assert "keys create --name reader --role auditor" in out
    assert head(ledger) == len(demo_events())


def test_demo_options_name_the_address_instead(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo(settings, "--host", "0.0.0.0", "--port", "9001") == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:9001/ui/assets/M1A1-002 " in out
    assert ":8000" not in out


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 80, "http://127.0.0.1:80"),
        ("::", 8000, "http://[::1]:8000"),
        ("fe80::1", 8000, "http://[fe80::1]:8000"),
        ("ledger.example", 443, "http://ledger.example:443"),
    ],
)
def test_browser_base_is_where_a_browser_on_this_machine_reaches_the_server(
    host: str, port: int, base: str
) -> None:
    assert browser_base(host, port) == base


def test_loading_the_demo_twice_says_it_was_there(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo(settings) == 0
    capsys.readouterr()
    assert demo(settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("the demo was already loaded into ")
    assert "nothing new stored" in out
    assert head(ledger) == len(demo_events())


def test_demo_shares_a_database_with_other_data(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append(ledger, [wire.party("north-gov"), wire.party("south-gov", reporter="north-gov")])
    assert demo(settings) == 0
    assert head(ledger) == 2 + len(demo_events())
    assert f"{len(demo_events())} new events" in capsys.readouterr().out


def test_demo_over_ids_of_its_own_registered_elsewhere_names_them_and_stores_nothing(
    ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    append(ledger, [wire.party("us-dos"), wire.party("isil", reporter="us-dos")])
    before = head(ledger)
    assert demo(settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: demo: cannot load the worked example, nothing was stored:")
    assert "demo-party-us-dos (payload.party_id): party is already registered" in err
    assert "demo-party-isil (payload.party_id): party is already registered" in err
    assert "a database of its own" in err
    assert len(err.strip().splitlines()) == 1
    assert head(ledger) == before


def test_demo_says_where_it_made_a_new_signing_key(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The default key file is relative, like the default database: say where it went.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_SIGNING_KEY_FILE")
    assert demo(settings) == 0
    made = tmp_path / "data" / "signing-key.pem"
    assert made.is_file()
    assert capsys.readouterr().err.strip() == (
        f"made a new signing key in {made} (LEDGER_SIGNING_KEY_FILE): keep it; every "
        "process that appends or checkpoints needs the same file"
    )
    assert demo(settings) == 0
    assert capsys.readouterr().err == ""


def test_demo_at_scale_appends_a_generated_world_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger import cli
    from ledger.bootstrap import build_ledger

    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    url = settings.database_url
    assert cli.main(["--database", url, "demo", "--scale", "600", "--seed", "7", "--quiet"]) == 0
    assert "appended 600 new events" in capsys.readouterr().err
    ledger = build_ledger(settings)
    try:
        assert ledger.lookups.head()[0] == 600
    finally:
        ledger.close()
    # The same seed again replays the same world: nothing new.
    assert cli.main(["--database", url, "demo", "--scale", "600", "--seed", "7", "--quiet"]) == 0
    assert "appended 0 new events" in capsys.readouterr().err
