"""Pure facts and rules of the custody ledger: vocabulary, events, the state fold and
the rule catalogue. Nothing here performs I/O — but this file, which reads its own
package's files once at import to choose how to import it (below). It imports only the
standard library, ``eventsourcing.domain`` and ``mypy_extensions`` (a no-op decorator
read by mypyc).

The modules may run compiled (``make compile``; decision 0027): mypyc builds them from
this very source into C extensions, listed with their sources' SHA-256 in
``_compiled.json``. They are imported only while every source is as compiled — an
edited or checked-out source is imported as source, the extensions set aside whole (a
compiled module calls the others compiled, so they are never mixed) — and never with
``LEDGER_PURE_PYTHON=1``. :data:`COMPILED` says which runs. This file (never compiled)
reads the stamp and hashes the sources once, at the first import (a few milliseconds).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def compiled_state(root: Path, environ: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether the compiled extensions of the package under ``root`` (the directory
    holding ``domain``) stand for its source, and why not: ``(False, reason)`` when
    pure Python is asked for, nothing was compiled, an extension is missing or a source
    differs from what was compiled."""
    env = os.environ if environ is None else environ
    if env.get("LEDGER_PURE_PYTHON") == "1":
        return False, "LEDGER_PURE_PYTHON=1"
    stamp = root / "domain" / "_compiled.json"
    if not stamp.is_file():
        return False, "not compiled (make compile)"
    compiled: dict[str, str] = json.loads(stamp.read_text())
    if not _extension(root / "domain" / RUNTIME):
        return False, f"the compiled modules' runtime (domain/{RUNTIME}) is missing"
    for source, digest in compiled.items():
        path = root / source
        if not _extension(path.with_suffix("")):
            return False, f"{source} has no compiled extension"
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return False, f"{source} changed since it was compiled (make compile)"
    return True, "compiled"


RUNTIME = "_native__mypyc"
"""The extension the compiled modules share (mypyc's runtime and their code), named by
``setup.py``'s ``group_name``."""


def _extension(stem: Path) -> bool:
    """Whether an extension module ``stem`` (a path without suffix) was built."""
    return any(
        stem.with_name(stem.name + suffix).is_file()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


class _SourceOnly:
    """Finds ``domain``'s modules as source files only (extensions set aside)."""

    @staticmethod
    def find_spec(
        fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("domain.") or path is None:
            return None
        for entry in path:
            finder = importlib.machinery.FileFinder(
                entry,
                (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
            )
            spec = finder.find_spec(fullname)
            if spec is not None:
                return spec
        return None


COMPILED, COMPILED_STATE = compiled_state(_HERE.parent)
"""Whether ``domain`` runs compiled, and why not when it does not."""

if not COMPILED and (_HERE / "_compiled.json").is_file():
    if "LEDGER_PURE_PYTHON" not in os.environ:
        warnings.warn(f"domain runs as pure Python: {COMPILED_STATE}", RuntimeWarning, stacklevel=2)
    sys.meta_path.insert(0, _SourceOnly())  # type: ignore[arg-type]
