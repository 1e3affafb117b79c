"""Which database a command works on, said plainly, and whether it is ready.

Every command but ``migrate`` needs the tables. On a database that lacks them it
stops with one line naming the fix (``ledger migrate``) instead of a driver
traceback, and it never creates an SQLite file as a side effect: only ``migrate``
does, and it says where (a relative ``sqlite:///data/ledger.db`` lands in whatever
directory the command runs from).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from ledger.settings import Settings


class CommandError(Exception):
    """A command cannot go on: its message is the whole story, no traceback."""


def sqlite_file(settings: Settings) -> Path | None:
    """The absolute path of the SQLite file, or ``None`` on PostgreSQL."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    assert database  # the settings refuse an in-memory SQLite database
    return Path(os.path.abspath(database))


def is_relative_sqlite(settings: Settings) -> bool:
    database = make_url(settings.database_url).database if settings.is_sqlite else None
    return bool(database) and not Path(str(database)).is_absolute()


def describe(settings: Settings) -> str:
    """The database as a person should read it: an absolute file path, or the
    PostgreSQL URL without its password."""
    path = sqlite_file(settings)
    if path is not None:
        return str(path)
    return make_url(settings.database_url).render_as_string(hide_password=True)


def relative_note(settings: Settings) -> str:
    """For a relative SQLite URL, why the file is where it is; else nothing."""
    if not is_relative_sqlite(settings):
        return ""
    return f"{settings.database_url} is relative to the current directory"


def where(settings: Settings) -> str:
    """``describe`` plus, for a relative SQLite URL, why it is that directory."""
    note = relative_note(settings)
    return describe(settings) + (f" ({note})" if note else "")


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's Alembic revision and the code's head."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from ledger.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def require_migrated(settings: Settings) -> None:
    """Raise ``CommandError`` unless the database exists and is at the code's revision."""
    path = sqlite_file(settings)
    if path is not None and not path.is_file():
        note = relative_note(settings)
        raise CommandError(
            f"the database is not migrated: run `ledger migrate` (there is no database at "
            f"{path}{'; ' + note if note else ''})"
        )
    from ledger.bootstrap import make_engine

    engine = make_engine(settings)
    try:
        current, head = revisions(engine)
    finally:
        engine.dispose()
    if current is None:
        raise CommandError(
            f"the database is not migrated: run `ledger migrate` (database {describe(settings)})"
        )
    if current != head:
        raise CommandError(
            f"the database is at migration {current}, this ledger needs {head}: "
            f"run `ledger migrate` (database {describe(settings)})"
        )


def note_new_signing_key(settings: Settings, existed: bool) -> None:
    """The signing key is made on first use (an append seals with it, a checkpoint signs
    with it), where a relative path puts it: say where, once."""
    path = settings.signing_key_file
    if not existed and path.is_file():
        print(
            f"made a new signing key in {os.path.abspath(path)} (LEDGER_SIGNING_KEY_FILE): "
            "keep it; every process that appends or checkpoints needs the same file",
            file=sys.stderr,
        )
