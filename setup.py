"""The package's build. Everything is in pyproject.toml but for one choice made here:
with ``LEDGER_COMPILE=1`` the domain's modules are also compiled to C extensions by
mypyc (decision 0027), which runs the same source about 1.6 times as fast; ``make compile``
builds them in place, the image builds them into its wheel. Without it (the default,
and wherever no C compiler is at hand) the package is pure Python and gives the same
results.

Built, ``domain/_compiled.json`` names each compiled source with its SHA-256:
``domain/__init__.py`` imports the extensions only while every source is as compiled,
and the source itself otherwise (an edit is never shadowed by a stale extension).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent

UNCOMPILED = {
    # An eventsourcing aggregate: its event classes are the library's to build and are
    # stored by topic; nothing in it is on a hot path.
    "domain/entries.py",
}


def compiled_sources() -> list[str]:
    """The domain's modules mypyc compiles: every one but the package markers (they
    choose between extension and source) and :data:`UNCOMPILED`."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "domain").rglob("*.py")
        if p.name != "__init__.py" and p.relative_to(ROOT).as_posix() not in UNCOMPILED
    )


def _ext_modules() -> list[object]:
    if os.environ.get("LEDGER_COMPILE") != "1":
        return []
    from mypyc.build import mypycify

    sources = compiled_sources()
    stamp = {s: hashlib.sha256((ROOT / s).read_bytes()).hexdigest() for s in sources}
    (ROOT / "domain" / "_compiled.json").write_text(json.dumps(stamp, indent=1) + "\n")
    # The runtime the modules share goes inside the package (``domain/_native__mypyc``),
    # not beside it: at the top level of the checkout, an editable install found it only
    # from the checkout's own directory, and a compiled module failed to import elsewhere.
    return list(mypycify(sources, opt_level="3", group_name="domain._native"))


setup(ext_modules=_ext_modules())
