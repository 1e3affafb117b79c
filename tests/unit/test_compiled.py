"""The domain compiled by mypyc (decision 0027): imported only while it stands for the
source, set aside whole otherwise, and giving the source's findings.

Under CI=true the suite must run on the compiled domain, as the image does: a machine
without a C compiler would otherwise measure and test something else in silence.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import domain
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _tree(tmp_path: Path, sources: dict[str, str], compiled: dict[str, str] | None) -> Path:
    for rel, text in sources.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    if compiled is not None:
        stamp = {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in compiled.items()}
        (tmp_path / "domain" / "_compiled.json").write_text(json.dumps(stamp))
        for rel in compiled:
            (tmp_path / rel).with_suffix(SUFFIX).write_bytes(b"")
        (tmp_path / "domain" / (domain.RUNTIME + SUFFIX)).write_bytes(b"")
    return tmp_path


def test_the_extensions_stand_for_the_source_only_while_every_source_is_as_compiled(
    tmp_path: Path,
) -> None:
    sources = {"domain/a.py": "A = 1\n", "domain/rules/b.py": "B = 2\n"}
    plain = _tree(tmp_path / "plain", sources, None)
    assert domain.compiled_state(plain, {}) == (False, "not compiled (make compile)")
    built = _tree(tmp_path / "built", sources, sources)
    assert domain.compiled_state(built, {}) == (True, "compiled")
    assert domain.compiled_state(built, {"LEDGER_PURE_PYTHON": "1"}) == (
        False,
        "LEDGER_PURE_PYTHON=1",
    )
    (built / "domain/rules/b.py").write_text("B = 3\n")
    ok, why = domain.compiled_state(built, {})
    assert not ok and why.startswith("domain/rules/b.py changed")
    lost = _tree(tmp_path / "lost", sources, sources)
    (lost / "domain/a.py").with_suffix(SUFFIX).unlink()
    assert domain.compiled_state(lost, {}) == (False, "domain/a.py has no compiled extension")
    bare = _tree(tmp_path / "bare", sources, sources)
    (bare / "domain" / (domain.RUNTIME + SUFFIX)).unlink()
    ok, why = domain.compiled_state(bare, {})
    assert not ok and why.startswith("the compiled modules' runtime")


def _run(code: str, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_domain_runs_compiled_in_ci_and_as_source_when_asked() -> None:
    where = "import domain, domain.rules.walk as w; print(domain.COMPILED, w.__file__)"
    compiled, path = _run(where).split(" ", 1)
    assert (compiled == "True") == path.endswith(SUFFIX)
    if IN_CI:
        assert compiled == "True", f"CI runs the domain compiled, as the image does: {path}"
    pure, path = _run(where, LEDGER_PURE_PYTHON="1").split(" ", 1)
    assert pure == "False" and path.endswith("walk.py")


def test_the_compiled_domain_imports_from_any_directory(tmp_path: Path) -> None:
    """The installed package (``make test``'s editable install), run from a directory
    that is not the checkout and without ``PYTHONPATH``: its compiled modules import.
    mypyc's shared runtime once lay beside the package, at the checkout's top level,
    where only a process started in the checkout found it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import domain, domain.rules.walk as w; print(domain.__file__, domain.COMPILED, w.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    where, compiled, walk = out.stdout.split()
    assert Path(where).resolve().parent == ROOT / "domain", "make test installs the checkout"
    assert compiled == str(domain.COMPILED)
    assert walk.endswith(SUFFIX if domain.COMPILED else "walk.py")


_WALK = """
from ledger.worlds.realistic import world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record
from domain.history import Event
from domain.rules.walk import Walk
from domain.rules.partitions import Partition, PartitionWalk, Router
events = [Event.parse(i + 1, to_record(EVENT_ADAPTER.validate_python(raw)))
          for i, raw in enumerate(world_events(3000, seed=4, assets=40, contracts=2))]
events.sort(key=lambda e: e.knowledge_key)
walk = Walk()
out = []
for lo in range(0, len(events), 700):
    walk.feed(events[lo:lo + 700])
    out += map(repr, walk.drain())
out += map(repr, sorted(walk.lives().items()))
byid = {e.event_id: e for e in events}
part = PartitionWalk(Partition(1, 3))
part.feed(Router(3, byid.get).split(events)[1])
out += map(repr, part.drain())
out += map(repr, part.take_records())
import hashlib, domain
print(domain.COMPILED, len(out), hashlib.sha256("\\n".join(out).encode()).hexdigest())
"""


def test_the_compiled_domain_finds_what_its_source_finds() -> None:
    """A realistic world walked whole and in a partition: every change drained, every
    life and every partition record, the same compiled as from the source."""
    compiled = _run(_WALK).split()
    source = _run(_WALK, LEDGER_PURE_PYTHON="1").split()
    assert source[0] == "False" and compiled[0] == str(domain.COMPILED)
    assert int(source[1]) > 1000
    assert compiled[1:] == source[1:]
