"""The ``ledger`` command on a database that is missing, empty, behind, unreachable or
misnamed: one ``ledger: …`` line naming the fix, a non-zero exit, no traceback, and no
database file made as a side effect. Only ``migrate`` creates one, and says where."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from ledger import cli
from ledger.store.migrate import alembic_config, upgrade
from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_conninfo

NOT_MIGRATED = "ledger: the database is not migrated: run `ledger migrate`"

# Each command that needs the tables, as typed (verify's "could not run" is 3).
NEEDS_TABLES = [
    (["keys", "create", "--name", "k", "--role", "admin"], 2),
    (["keys", "list"], 2),
    (["keys", "revoke", "k"], 2),
    (["demo"], 2),
    (["checkpoint"], 2),
    (["export", "--quiet"], 2),
    (["projections", "status"], 2),
    (["projections", "rebuild", "--quiet"], 2),
]


@pytest.fixture(autouse=True)
def _signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never a signing key in data/ under the checkout.
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(tmp_path / "signing-key.pem"))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("words", "code"), NEEDS_TABLES)
def test_a_command_on_a_missing_sqlite_database_says_migrate_and_creates_nothing(
    words: list[str], code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / "ledger.db"
    assert cli.main(["--database", f"sqlite:///{path}", *words]) == code
    line = one_line(capsys.readouterr().err)
    assert line.startswith(NOT_MIGRATED), line
    assert str(path) in line
    assert not path.exists() and not path.parent.exists()


def test_verify_of_a_missing_database_could_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nothing.db"
    assert cli.main(["verify", "--database", f"sqlite:///{path}", "--quiet"]) == 3
    assert one_line(capsys.readouterr().err).startswith(NOT_MIGRATED)
    assert not path.exists()


def test_import_into_a_missing_database_says_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text("{}\n")
    assert cli.main(["--database", f"sqlite:///{tmp_path}/l.db", "import", str(events)]) == 2
    assert one_line(capsys.readouterr().err).startswith(NOT_MIGRATED)


def test_import_of_a_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.ndjson"
    assert cli.main(["--database", f"sqlite:///{tmp_path}/l.db", "import", str(missing)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"ledger: import: cannot read {missing}: No such file or directory"
    )


def test_keys_create_on_an_empty_sqlite_file_says_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()  # a file with no tables
    assert path.exists()
    args = ["--database", f"sqlite:///{path}", "keys", "create", "--name", "a", "--role", "admin"]
    assert cli.main(args) == 2
    assert one_line(capsys.readouterr().err).startswith(NOT_MIGRATED)


@pytest.mark.parametrize("words", [["serve", "--port", "1"], ["project"]])
def test_the_long_running_commands_refuse_an_unmigrated_database_before_starting(
    words: list[str], tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "--database", f"sqlite:///{tmp_path}/l.db", *words],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out
    assert one_line(out.stderr).startswith(NOT_MIGRATED)


def test_a_database_behind_the_code_is_told_which_migration_it_is_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    first = list(script.walk_revisions())[-1].revision
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, first)
    assert cli.main(["--database", url, "keys", "list"]) == 2
    assert one_line(capsys.readouterr().err).startswith(
        f"ledger: the database is at migration {first}, this ledger needs {head}: "
        "run `ledger migrate`"
    )


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A PostgreSQL database with no tables at all."""
    try:
        admin = psycopg.connect(_pg_conninfo(PG_ADMIN_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable in CI at {PG_ADMIN_URL}: {e}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (outside CI): {e}")
    name = f"ledger_empty_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_keys_create_on_an_unmigrated_postgres_database_says_migrate(
    empty_pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database", empty_pg_database, "keys", "create", "--name", "a", "--role", "admin"]
    assert cli.main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(NOT_MIGRATED), line
    assert make_url(empty_pg_database).database in line


def test_an_unreachable_postgres_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/ledger"
    assert cli.main(["--database", url, "keys", "list"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"ledger: cannot use the database {url}: "), line


def test_a_bad_database_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "mysql://root@localhost/ledger")
    assert cli.main(["keys", "list"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("ledger: LEDGER_DATABASE_URL: "), line
    assert "sqlite:// or postgresql+psycopg://" in line


# --- where the database is ----------------------------------------------------------


def test_migrate_says_where_a_relative_sqlite_database_was_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    assert cli.main(["migrate"]) == 0  # the default, sqlite:///data/ledger.db
    out = capsys.readouterr()
    made = tmp_path / "data" / "ledger.db"
    assert made.is_file()
    assert out.err.strip() == (
        f"created the database {made} "
        "(sqlite:///data/ledger.db is relative to the current directory)"
    )
    assert out.out.strip() == f"migrated {made} to head"

    assert cli.main(["migrate"]) == 0  # already there: nothing created, nothing to say
    again = capsys.readouterr()
    assert again.err == ""
    assert again.out.strip() == f"migrated {made} to head"


def test_a_command_in_another_directory_names_the_database_it_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:///data/ledger.db")
    assert cli.main(["keys", "list"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"{NOT_MIGRATED} (there is no database at {tmp_path / 'data' / 'ledger.db'}; "
        "sqlite:///data/ledger.db is relative to the current directory)"
    )
    assert not (tmp_path / "data").exists()


def test_migrate_on_postgres_names_it_without_the_password(
    empty_pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url(empty_pg_database).set(password="s3cret")
    shown = url.render_as_string(hide_password=True)
    assert "s3cret" not in shown
    # Trust auth ignores the password: the point is only that it is never printed.
    assert cli.main(["--database", url.render_as_string(hide_password=False), "migrate"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"migrated {shown} to head"
    assert "s3cret" not in out.out + out.err


def test_serve_says_which_database_it_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    upgrade(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "--database", url, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.strip() == f"serving the database {tmp_path / 'l.db'}"
