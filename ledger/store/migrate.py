"""Apply the Alembic migrations in ``migrations/`` (``ledger migrate``).

The migrations are the top-level ``migrations`` package. The wheel installs it beside
``ledger`` (pyproject.toml ships it, ``env.py``, ``script.py.mako`` and ``versions/``),
so an installed ledger finds it in its own site-packages and a checkout finds the
top-level folder, with no ``alembic.ini`` on disk: the image has none.
``alembic.ini`` stays for developers who run ``alembic`` by hand in the checkout.
"""

from __future__ import annotations

from importlib.machinery import PathFinder
from pathlib import Path

from alembic import command
from alembic.config import Config

# The directory ``ledger`` was imported from: the checkout, or site-packages.
ROOT = Path(__file__).resolve().parents[2]


class MigrationsNotFoundError(RuntimeError):
    pass


def script_location() -> Path:
    """The ``migrations`` package beside this ``ledger`` package.

    The search is confined to the directory ``ledger`` came from, not the whole of
    ``sys.path``: another project's ``migrations`` earlier on the path (say, the current
    directory under ``python -m``) must never be run against the ledger's database.
    """
    spec = PathFinder.find_spec("migrations", [str(ROOT)])
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "env.py").is_file():
            return Path(folder)
    raise MigrationsNotFoundError(
        f"no migrations package (migrations/env.py) beside {ROOT / 'ledger'}: "
        "the installation is incomplete; reinstall the custody-ledger wheel"
    )


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
