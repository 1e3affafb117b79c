"""Phase 3: tampering by direct SQL on copies of a ledger.

A source ledger is built through the append path (appends of random sizes, a checkpoint
half-way and one at the head), then copied once per case — the database and the signing
key file with the signer's record beside it, as a forger with write access to the
database (not to the key) would find them. Each copy is tampered with one way and
checked with ``ledger verify --database`` (or the same function in process, for the
short form): every case must be reported tampered (exit 1) and, where the class has
one, name the first bad position. An untouched copy is the control (exit 0). A forged
inclusion proof is checked with the verification functions of ``ledger.integrity``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from ledger.bootstrap import build_ledger
from ledger.integrity.checkpoints import Checkpoint, Signer, verify_checkpoint
from ledger.integrity.merkle import Frontier, leaf_hash, verify_inclusion
from ledger.integrity.signed_state import state_file
from ledger.integrity.store import IntegrityStore, StoredCheckpoint
from ledger.integrity.verify_live import verify_database
from ledger.settings import Settings
from ledger.worlds import wire
from tests.faults import deploy
from tests.faults.deploy import PG_ADMIN_URL, append, ledger_env, scratch_database, transfer


@dataclass
class Source:
    """The ledger every case copies: its size and checkpoints."""

    url: str
    key_file: Path
    head: int
    checkpoints: tuple[int, int]


@dataclass
class Case:
    name: str
    what: str
    tampered: int | None = None
    """the position altered (None: no event was)"""
    expected: tuple[int, int] | None = None
    """the range the named first bad position must fall in (None: no position to name)"""
    exit_code: int | None = None
    verdict: str = ""
    named: int | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def detected(self) -> bool:
        return self.exit_code == 1

    @property
    def located(self) -> bool:
        if self.expected is None:
            return True
        return self.named is not None and self.expected[0] <= self.named <= self.expected[1]


@dataclass
class ProofCheck:
    event_position: int = 0
    tree_size: int = 0
    proof_hashes: int = 0
    control_passes: bool = False
    forged: int = 0
    refused: int = 0


@dataclass
class TamperResult:
    backend: str
    events: int = 0
    checkpoints: tuple[int, int] = (0, 0)
    via: str = "ledger verify --database (CLI)"
    control: Case | None = None
    cases: list[Case] = field(default_factory=list)
    proof: ProofCheck = field(default_factory=ProofCheck)
    seconds: float = 0.0

    @property
    def detected(self) -> int:
        return sum(c.detected for c in self.cases) + self.proof.refused

    @property
    def total(self) -> int:
        return len(self.cases) + self.proof.forged

    @property
    def ok(self) -> bool:
        return bool(
            self.control
            and self.control.exit_code == 0
            and self.total > 0
            and self.detected == self.total
            and all(c.located for c in self.cases)
            and self.proof.control_passes
        )


# --- the source ledger -------------------------------------------------------------------


def build_source(url: str, key_file: Path, events: int, rng: random.Random) -> Source:
    ledger = build_ledger(Settings(database_url=url, signing_key_file=key_file))
    try:
        append(ledger, wire.reference_world())
        append(ledger, [wire.asset(f"a{i}", event_id=f"src-a{i}") for i in range(10)])
        i = 0

        def grow(until: int) -> None:
            nonlocal i
            while ledger.lookups.head()[0] < until:
                n = min(rng.randint(1, 40), until - ledger.lookups.head()[0])
                append(
                    ledger, [transfer(f"a{(i + k) % 10}", i + k, f"src-t{i + k}") for k in range(n)]
                )
                i += n

        grow(events // 2)
        first, _ = ledger.integrity.checkpoint()
        grow(events)
        last, _ = ledger.integrity.checkpoint()
        assert first is not None and last is not None
        head = ledger.lookups.head()[0]
    finally:
        ledger.close()
    return Source(url, key_file, head, (first.tree_size, last.tree_size))


# --- SQL on a copy -------------------------------------------------------------------------


def _sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _row(engine: Engine, position: int) -> tuple[bytes, bytes, str]:
    with engine.connect() as conn:
        r = conn.execute(
            sa.text("SELECT state, hash, topic FROM ledger_events WHERE notification_id = :p"),
            {"p": position},
        ).one()
    return bytes(r[0]), bytes(r[1]), str(r[2])


def _edited(state: bytes, prev_hash: bytes | None = None) -> bytes:
    record = json.loads(state)
    record["source"] = {**record.get("source", {}), "ref": "forged"}
    if prev_hash is not None:
        record["prev_hash"] = prev_hash.hex()
    return bytes(rfc8785.dumps(record))


def _insert(engine: Engine, position: int, state: bytes, topic: str) -> None:
    sqlite = engine.dialect.name == "sqlite"
    _sql(
        engine,
        "INSERT INTO ledger_events (notification_id, originator_id, originator_version,"
        " topic, state, hash) VALUES (:p, :o, 1, :t, :s, :h)",
        p=position,
        o=uuid.uuid4().hex if sqlite else uuid.uuid4(),
        t=topic,
        s=state,
        h=hashlib.sha256(state).digest(),
    )


def _forged_after(engine: Engine, position: int) -> tuple[bytes, str]:
    """A new event copied from ``position`` with a fresh id, chained to it."""
    state, digest, topic = _row(engine, position)
    record = json.loads(state)
    record["event_id"] = f"forged-{uuid.uuid4().hex[:8]}"
    record["prev_hash"] = digest.hex()
    return bytes(rfc8785.dumps(record)), topic


def _rechain(engine: Engine, position: int, head: int) -> None:
    """Edit ``position`` and re-hash and re-link every later event, as a careful forger."""
    prev = _row(engine, position - 1)[1] if position > 1 else b"\0" * 32
    with engine.connect() as conn:
        states = conn.execute(
            sa.text(
                "SELECT notification_id, state FROM ledger_events"
                " WHERE notification_id >= :p AND notification_id <= :h ORDER BY 1"
            ),
            {"p": position, "h": head},
        ).all()
    updates = []
    for p, raw in states:
        state = _edited(bytes(raw), prev) if p == position else _relinked(bytes(raw), prev)
        prev = hashlib.sha256(state).digest()
        updates.append({"s": state, "h": prev, "p": p})
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE ledger_events SET state = :s, hash = :h WHERE notification_id = :p"),
            updates,
        )


def _append_start(engine: Engine, position: int) -> int:
    """The first position of the append that wrote ``position`` (each append seals its
    last event)."""
    with engine.connect() as conn:
        before = conn.execute(
            sa.text(
                "SELECT max(notification_id) FROM ledger_events"
                " WHERE seal IS NOT NULL AND notification_id < :p"
            ),
            {"p": position},
        ).scalar()
    return int(before or 0) + 1


def _relinked(state: bytes, prev: bytes) -> bytes:
    record = json.loads(state)
    record["prev_hash"] = prev.hex()
    return bytes(rfc8785.dumps(record))


def _shift_up(engine: Engine, after: int) -> None:
    # Two steps: a unique key is checked row by row, so +1 in place would collide.
    _sql(
        engine,
        "UPDATE ledger_events SET notification_id = notification_id + 1000000000"
        " WHERE notification_id > :p",
        p=after,
    )
    _sql(
        engine,
        "UPDATE ledger_events SET notification_id = notification_id - 999999999"
        " WHERE notification_id > 1000000000",
    )


def _other_key_checkpoint(engine: Engine, size: int) -> None:
    """A checkpoint of the log's first ``size`` events as stored now, signed by a key
    that is not the ledger's."""
    with engine.connect() as conn:
        hashes = [
            bytes(h)
            for h in conn.execute(
                sa.text(
                    "SELECT hash FROM ledger_events WHERE notification_id <= :n ORDER BY notification_id"
                ),
                {"n": size},
            ).scalars()
        ]
    frontier = Frontier()
    frontier.extend(leaf_hash(h) for h in hashes)
    other = Signer.generate()
    stored = StoredCheckpoint(
        other.checkpoint(size, frontier.root()), other.public_key, frontier, hashes[-1]
    )
    with engine.begin() as conn:
        IntegrityStore(engine).insert(conn, stored, [])


# --- the cases ------------------------------------------------------------------------------

Tamper = Callable[[Engine, Source, random.Random], tuple[int | None, tuple[int, int] | None]]


def _edit(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    state = _row(engine, p)[0]
    _sql(
        engine,
        "UPDATE ledger_events SET state = :s WHERE notification_id = :p",
        s=_edited(state),
        p=p,
    )
    return p, (p, p)


def _edit_rechained(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    start = _append_start(engine, p)
    _rechain(engine, p, src.head)
    # Re-hashed throughout, the chain holds: the seal of p's append no longer does, nor
    # the first checkpoint over p. Either may be named: no row shows which event it was.
    return p, (start, src.checkpoints[0])


def _delete(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    _sql(engine, "DELETE FROM ledger_events WHERE notification_id = :p", p=p)
    return p, (p, p)


def _insert_head(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    state, topic = _forged_after(engine, src.head)
    _insert(engine, src.head + 1, state, topic)
    return src.head + 1, (src.head + 1, src.head + 1)


def _insert_middle(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    state, topic = _forged_after(engine, p - 1)
    _shift_up(engine, p - 1)
    _insert(engine, p, state, topic)
    return p, (p, p)


def _reorder(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    for a, b in ((p, -1), (p + 1, p), (-1, p + 1)):
        _sql(
            engine,
            "UPDATE ledger_events SET notification_id = :b WHERE notification_id = :a",
            a=a,
            b=b,
        )
    return p, (p, p)


def _cut_tail(engine: Engine, src: Source, rng: random.Random) -> tuple[int, tuple[int, int]]:
    cut = rng.randint(src.checkpoints[0] + 1, src.head - 1)
    _sql(engine, "DELETE FROM ledger_events WHERE notification_id > :p", p=cut)
    _sql(engine, "DELETE FROM integrity_checkpoints WHERE tree_size > :p", p=cut)
    _sql(engine, "DELETE FROM integrity_subtrees")
    return cut + 1, (cut + 1, cut + 1)


def _bad_signature(engine: Engine, src: Source, rng: random.Random) -> tuple[None, None]:
    size = src.checkpoints[0]
    with engine.connect() as conn:
        signature = str(
            conn.execute(
                sa.text("SELECT signature FROM integrity_checkpoints WHERE tree_size = :n"),
                {"n": size},
            ).scalar_one()
        )
    raw = bytearray(base64.b64decode(signature))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    _sql(
        engine,
        "UPDATE integrity_checkpoints SET signature = :s WHERE tree_size = :n",
        s=base64.b64encode(bytes(raw)).decode(),
        n=size,
    )
    return None, None


def _other_key(engine: Engine, src: Source, rng: random.Random) -> tuple[None, None]:
    _other_key_checkpoint(engine, src.head)
    return None, None


def _rewritten_resigned(
    engine: Engine, src: Source, rng: random.Random
) -> tuple[int, tuple[int, int]]:
    p = rng.randint(20, src.checkpoints[0] - 5)
    start = _append_start(engine, p)
    _rechain(engine, p, src.head)
    _sql(engine, "DELETE FROM integrity_checkpoints")
    _sql(engine, "DELETE FROM integrity_subtrees")
    _other_key_checkpoint(engine, src.head)
    # No checkpoint of the ledger's key is left: the seals say which append was rewritten.
    return p, (start, p)


CASES: list[tuple[str, str, Tamper]] = [
    ("edit", "edit one event's state (hash left as it was)", _edit),
    (
        "edit, re-chained",
        "edit one event's state, re-hash it and re-link every later event",
        _edit_rechained,
    ),
    ("delete", "delete one event row", _delete),
    (
        "insert at the head",
        "a forged append: a new row chained and hashed at the head",
        _insert_head,
    ),
    (
        "insert in the middle",
        "shift later rows up one, insert a row chained to its predecessor",
        _insert_middle,
    ),
    ("reorder", "swap the positions of two adjacent events", _reorder),
    (
        "truncate the tail",
        "delete the last events and every checkpoint covering them",
        _cut_tail,
    ),
    (
        "checkpoint: bad signature",
        "flip one bit of a stored checkpoint's signature",
        _bad_signature,
    ),
    (
        "checkpoint: another key",
        "add a checkpoint of the head signed by a key that is not the ledger's",
        _other_key,
    ),
    (
        "checkpoint: re-signed rewrite",
        "re-chained edit, every checkpoint deleted, the head re-signed by another key",
        _rewritten_resigned,
    ),
]


# --- verifying a copy ----------------------------------------------------------------------


def _verify_cli(url: str, key_file: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify", "--database", url, "--json", "--quiet"],
        cwd=deploy.CODE,
        env=ledger_env(url, key_file),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        report = {"verdict": "no report", "reason": (done.stderr or done.stdout)[-300:]}
    report["exit_code"] = done.returncode
    return report


def _verify_in_process(url: str, key_file: Path) -> dict[str, Any]:
    engine = sa.create_engine(Settings(database_url=url).sqlalchemy_url(), poolclass=NullPool)
    try:
        return verify_database(engine, signing_key_file=key_file).to_dict()
    finally:
        engine.dispose()


def _copy_key(src: Source, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    key = into / src.key_file.name
    shutil.copy(src.key_file, key)
    if state_file(src.key_file).exists():
        shutil.copy(state_file(src.key_file), state_file(key))
    return key


def run_case(
    src: Source,
    backend: str,
    workdir: Path,
    name: str,
    what: str,
    tamper: Tamper | None,
    rng: random.Random,
    *,
    cli: bool,
    admin_url: str,
) -> Case:
    case = Case(name, what)
    started = time.monotonic()
    with scratch_database(backend, workdir, admin_url, template=src.url) as url:
        key = _copy_key(src, workdir / f"key-{uuid.uuid4().hex[:6]}")
        if tamper is not None:
            engine = sa.create_engine(
                Settings(database_url=url).sqlalchemy_url(), poolclass=NullPool
            )
            try:
                case.tampered, case.expected = tamper(engine, src, rng)
            finally:
                engine.dispose()
        report = _verify_cli(url, key) if cli else _verify_in_process(url, key)
    case.exit_code = int(report["exit_code"])
    case.verdict = str(report.get("verdict"))
    case.named = report.get("first_position")
    case.reason = str(report.get("reason") or "")
    case.seconds = time.monotonic() - started
    return case


def check_proof(src: Source, rng: random.Random, workdir: Path) -> ProofCheck:
    """An inclusion proof as ``GET /v1/audit/proof`` hands it out, written to a file; one
    copy per proof hash with that hash changed, each checked as an auditor would: the
    checkpoint's signature against the ledger's key, the path against its root."""
    ledger = build_ledger(Settings(database_url=src.url, signing_key_file=src.key_file))
    try:
        public_key = ledger.integrity.signer.public_key
        p = rng.randint(1, src.checkpoints[1])
        with ledger.engine.connect() as conn:
            state = conn.execute(
                sa.text("SELECT state FROM ledger_events WHERE notification_id = :p"), {"p": p}
            ).scalar_one()
        event_id = str(json.loads(bytes(state))["event_id"])
        proof = ledger.integrity.inclusion(event_id, src.checkpoints[1])
    finally:
        ledger.close()
    path = workdir / "proof.json"
    path.write_text(json.dumps(proof))

    def accepted(doc: dict[str, Any]) -> bool:
        checkpoint = Checkpoint.from_dict(doc["checkpoint"])
        return verify_checkpoint(checkpoint, public_key) and verify_inclusion(
            leaf_hash(bytes.fromhex(doc["hash"])),
            int(doc["leaf_index"]),
            int(doc["tree_size"]),
            [bytes.fromhex(h) for h in doc["proof"]],
            checkpoint.root_bytes,
        )

    check = ProofCheck(p, src.checkpoints[1], len(proof["proof"]))
    check.control_passes = accepted(json.loads(path.read_text()))
    for i in range(len(proof["proof"])):
        doc = json.loads(path.read_text())
        raw = bytearray.fromhex(doc["proof"][i])
        raw[rng.randrange(32)] ^= 1 << rng.randrange(8)
        doc["proof"][i] = raw.hex()
        forged = workdir / f"proof-{i}.json"
        forged.write_text(json.dumps(doc))
        check.forged += 1
        check.refused += not accepted(json.loads(forged.read_text()))
    return check


def run_tamper_phase(
    backend: str,
    workdir: Path,
    *,
    events: int = 2000,
    cli: bool = True,
    rng_seed: int = 16,
    admin_url: str = PG_ADMIN_URL,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
) -> TamperResult:
    """Every case of ``CASES`` (or those named in ``only``, less ``skip``) on copies of one
    source ledger of about ``events`` events, the control and the forged proof."""
    started = time.monotonic()
    rng = random.Random(rng_seed)
    result = TamperResult(backend)
    if not cli:
        result.via = "verify_database (what ledger verify --database runs), in process"
    (workdir / "source-key").mkdir(parents=True, exist_ok=True)
    with scratch_database(backend, workdir, admin_url) as source_url:
        src = build_source(source_url, workdir / "source-key" / "signing-key.pem", events, rng)
        result.events, result.checkpoints = src.head, src.checkpoints
        result.control = run_case(
            src,
            backend,
            workdir,
            "control",
            "an untouched copy",
            None,
            rng,
            cli=cli,
            admin_url=admin_url,
        )
        for name, what, tamper in CASES:
            if (only is not None and name not in only) or name in skip:
                continue
            result.cases.append(
                run_case(
                    src, backend, workdir, name, what, tamper, rng, cli=cli, admin_url=admin_url
                )
            )
        result.proof = check_proof(src, rng, workdir)
    result.seconds = time.monotonic() - started
    return result
