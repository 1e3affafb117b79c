"""``ledger verify --evidence FILE``: an evidence bundle checked offline (no server, no
database) — signatures, every inclusion proof, completeness, then the answer recomputed
from the bundled events with the same fold (:mod:`.evidence_format`).

Each way a bundle can be wrong has its own exit code, checked in this order (the first
failure is reported):

====  =====================  ================================================================
code  verdict                meaning
====  =====================  ================================================================
0     ``verified``           every check passed and the recomputed answer is the bundled one
3     ``error``              not an evidence bundle, or a malformed piece of one
10    ``bad_signature``      the checkpoint (note or JSON) or a subject statement is not
                             signed by the (pinned) ledger key — e.g. re-signed by another
11    ``event_edited``       an event's stored bytes do not hash to its hash
12    ``event_removed``      fewer events of a subject than its signed statement counts
13    ``event_added``        an event of no subject of this answer, a repeated one, or more
                             (or other) events than the statement counts
14    ``proof_failed``       an inclusion proof does not lead to the checkpoint's root
15    ``answer_differs``     the answer recomputed from the events is not the bundled one
16    ``not_covered``        the checkpoint's time is before ``known_at``, or a statement is
                             about another checkpoint
17    ``quorum_not_met``     fewer than the required witnesses cosigned the checkpoint
====  =====================  ================================================================

Never raises on bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from domain.history import Event
from domain.instants import parse
from domain.rules.lives import Window
from domain.state import History
from domain.vocabulary import EventType
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.evidence_format import (
    FORMAT,
    NoAnswer,
    SubjectStatement,
    asset_answer,
    asset_subjects,
    contract_answer,
    contract_members,
    contract_subjects,
    finding_answer,
    finding_subjects,
    subject_digest,
    subjects_of,
)
from ledger.integrity.merkle import leaf_hash, verify_inclusion
from ledger.integrity.notes import (
    CheckpointBody,
    Note,
    NoteError,
    NoteVerifier,
    TlogProof,
    count_cosigners,
    log_verifier,
    verify_signature,
)
from ledger.projections.custody_queries import REGISTRATIONS

EXIT = {
    "verified": 0,
    "error": 3,
    "bad_signature": 10,
    "event_edited": 11,
    "event_removed": 12,
    "event_added": 13,
    "proof_failed": 14,
    "answer_differs": 15,
    "not_covered": 16,
    "quorum_not_met": 17,
}


class _Fail(Exception):
    def __init__(self, verdict: str, reason: str, position: int | None = None) -> None:
        super().__init__(reason)
        self.verdict, self.reason, self.position = verdict, reason, position


@dataclass(slots=True)
class EvidenceReport:
    verdict: str = "verified"
    exit_code: int = 0
    reason: str = "every signature and proof verifies, the bundle is complete, and the answer recomputed from its events is the bundled answer"
    position: int | None = None
    key_id: str | None = None
    key_pinned: bool = False
    kind: str | None = None
    asset_id: str | None = None
    contract_id: str | None = None
    finding_key: str | None = None
    as_of: str | None = None
    known_at: str | None = None
    tree_size: int | None = None
    events: int = 0
    cosigners: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        head = "VERIFIED" if self.exit_code == 0 else f"FAILED ({self.verdict})"
        out = [f"{head}: {self.reason}"]
        if self.finding_key is not None:
            out.append(f"answer: finding {self.finding_key} as known at {self.known_at}")
        elif self.kind == "contract":
            out.append(
                f"answer: report of contract {self.contract_id} as of {self.as_of}, known at "
                f"{self.known_at}"
            )
        elif self.asset_id is not None:
            out.append(
                f"answer: asset {self.asset_id} as of {self.as_of}, known at {self.known_at}"
            )
        if self.tree_size is not None:
            out.append(
                f"checkpoint: tree size {self.tree_size}, key {self.key_id}"
                + ("" if self.key_pinned else " (NOT pinned: give --public-key)")
            )
        out.append(f"events checked: {self.events}")
        if self.cosigners:
            out.append("cosigned by: " + ", ".join(self.cosigners))
        out.extend(f"  differs: {d}" for d in self.differences[:20])
        return out


def verify_evidence(
    doc: Any,
    public_key: bytes | str | None = None,
    witnesses: Sequence[NoteVerifier] = (),
    quorum: int = 0,
) -> EvidenceReport:
    report = EvidenceReport()
    try:
        _verify(report, doc, public_key, witnesses, quorum)
    except _Fail as fail:
        report.verdict, report.reason, report.position = fail.verdict, fail.reason, fail.position
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.verdict = "error"
        report.reason = f"not a well-formed evidence bundle: {type(exc).__name__}: {exc}"
    report.exit_code = EXIT[report.verdict]
    return report


def _verify(
    report: EvidenceReport,
    doc: Any,
    public_key: bytes | str | None,
    witnesses: Sequence[NoteVerifier],
    quorum: int,
) -> None:
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise _Fail("error", f"not an evidence bundle ({FORMAT})")
    query = doc["query"]
    kind = query.get("kind")
    if kind not in ("asset", "finding", "contract"):
        raise _Fail("error", f"unknown kind of answer {kind!r}")
    report.kind, report.known_at = kind, query["known_at"]
    asset_id = query.get("asset_id")
    contract_id = query.get("contract_id")
    report.asset_id = None if asset_id is None else str(asset_id)
    report.contract_id = None if contract_id is None else str(contract_id)
    if kind == "finding":
        report.finding_key = str(query["finding_key"])
    if kind in ("asset", "contract"):
        report.as_of = query["as_of"]
    if kind == "asset" and report.asset_id is None:
        raise _Fail("error", "an asset's answer names no asset")
    if kind == "contract" and (report.contract_id is None or report.asset_id is not None):
        raise _Fail("error", "a contract's answer names one contract and no asset")
    if report.asset_id is None and report.contract_id is None:
        raise _Fail("error", "the query names neither an asset nor a contract")
    k = parse(str(query["known_at"]))

    note, body, verifier = _checkpoint(report, doc, public_key, witnesses, quorum, k)
    statements = _statements(doc, verifier, body)
    parsed, hashes = _events(doc, note, body)
    report.events = len(parsed)
    subjects = _subjects(report, parsed)
    missing = [s for s in subjects if s not in statements]
    if missing:
        raise _Fail("event_removed", f"no signed statement of {', '.join(missing)}")
    _complete(parsed, hashes, subjects, statements, body)
    _answer(report, doc, parsed, hashes, k, _head(doc, note, body) if kind == "contract" else None)


def _subjects(report: EvidenceReport, parsed: Sequence[Event]) -> list[str]:
    """The subjects the answer depends on; a contract's assets are read off the bundled
    registrations, whose completeness the ``registrations`` statement proves."""
    if report.kind == "asset" and report.asset_id is not None:
        return asset_subjects(report.asset_id)
    if report.asset_id is not None:
        return finding_subjects(report.asset_id, report.contract_id)
    contract_id = report.contract_id or ""
    filed = subjects_of(parsed)
    registrations = [e for e in parsed if REGISTRATIONS in filed[e.event_id]]
    return contract_subjects(contract_id, contract_members(registrations, contract_id))


def _head(doc: Any, note: Note, body: CheckpointBody) -> tuple[int, str]:
    """The checkpoint's last event (a contract report names it): its hash is proved by an
    inclusion proof at the tree's last index."""
    head = doc["head"]
    position, digest = int(head["position"]), bytes.fromhex(str(head["hash"]))
    if position != body.tree_size:
        raise _Fail(
            "proof_failed",
            f"the head (event {position}) is not the checkpoint's last event ({body.tree_size})",
            position,
        )
    _proved(f"the head (event {position})", position, digest, head["proof"], note, body)
    return position, digest.hex()


def _checkpoint(
    report: EvidenceReport,
    doc: Any,
    public_key: bytes | str | None,
    witnesses: Sequence[NoteVerifier],
    quorum: int,
    k: datetime,
) -> tuple[Note, CheckpointBody, NoteVerifier]:
    """1. The key, and the checkpoint in both forms: signed by the key, of one tree,
    covering ``k``, with enough witnesses."""
    try:
        embedded = parse_public_key(str(doc["log"]["public_key"]))
        pinned = parse_public_key(public_key) if public_key else None
    except CheckpointFormatError as exc:
        raise _Fail("error", f"a public key is malformed: {exc}") from None
    key = pinned or embedded
    report.key_id, report.key_pinned = key_id_for(key), pinned is not None
    verifier = log_verifier(key)
    try:
        note = Note.parse(str(doc["checkpoint"]["note"]))
        body = CheckpointBody.parse(note.text)
        signed = Checkpoint.from_dict(dict(doc["checkpoint"]["signed"]))
    except (NoteError, CheckpointFormatError) as exc:
        raise _Fail("error", f"the checkpoint is malformed: {exc}") from None
    report.tree_size = body.tree_size
    if verify_signature(note, verifier) is not True:
        raise _Fail(
            "bad_signature",
            f"the checkpoint note is not signed by key {report.key_id} (origin "
            f"{verifier.name}); it names {body.origin}",
        )
    if not verify_checkpoint(signed, key):
        raise _Fail("bad_signature", f"the JSON checkpoint is not signed by key {report.key_id}")
    if (signed.tree_size, signed.root_bytes) != (body.tree_size, body.root):
        raise _Fail("bad_signature", "the note and the JSON checkpoint are of different trees")
    if parse(signed.timestamp) < k:
        raise _Fail(
            "not_covered",
            f"the checkpoint was signed at {signed.timestamp}, before known_at {report.known_at}",
        )
    report.cosigners = count_cosigners(note, witnesses)
    if len(report.cosigners) < quorum:
        raise _Fail(
            "quorum_not_met",
            f"{len(report.cosigners)} of the {len(witnesses)} trusted witnesses cosigned the "
            f"checkpoint; {quorum} required",
        )
    return note, body, verifier


def _statements(
    doc: Any, verifier: NoteVerifier, body: CheckpointBody
) -> dict[str, SubjectStatement]:
    """2. The subject statements, bound to this checkpoint (one for every subject of the
    answer is required once the events say which those are)."""
    statements: dict[str, SubjectStatement] = {}
    for item in doc["subjects"]:
        try:
            st_note = Note.parse(str(item["statement"]))
            statement = SubjectStatement.parse(st_note.text)
        except NoteError as exc:
            raise _Fail("error", f"a subject statement is malformed: {exc}") from None
        if verify_signature(st_note, verifier) is not True:
            raise _Fail(
                "bad_signature", f"the statement of {statement.subject} is not signed by the key"
            )
        if (statement.origin, statement.tree_size, statement.root) != (
            body.origin,
            body.tree_size,
            body.root,
        ):
            raise _Fail("not_covered", f"the statement of {statement.subject} is of another tree")
        statements[statement.subject] = statement
    return statements


def _events(doc: Any, note: Note, body: CheckpointBody) -> tuple[list[Event], dict[int, bytes]]:
    """3. Every event: its bytes, its hash, its inclusion proof."""
    parsed: list[Event] = []
    hashes: dict[int, bytes] = {}
    for item in doc["events"]:
        position = int(item["position"])
        state = str(item["state"]).encode("utf-8")
        digest = bytes.fromhex(str(item["hash"]))
        if position in hashes:
            raise _Fail("event_added", f"event {position} appears twice", position)
        if hashlib.sha256(state).digest() != digest:
            raise _Fail(
                "event_edited",
                f"event {position} was edited: its bytes do not hash to its hash",
                position,
            )
        _proved(f"event {position}", position, digest, item["proof"], note, body)
        hashes[position] = digest
        parsed.append(Event.parse(position, orjson.loads(state), owned=True))
    return parsed, hashes


def _proved(
    what: str, position: int, digest: bytes, proof_text: object, note: Note, body: CheckpointBody
) -> None:
    """The ``tlog-proof`` of the leaf at ``position`` (its hash ``digest``) leads to the
    checkpoint's root, against this very checkpoint note."""
    try:
        proof = TlogProof.parse(str(proof_text))
    except NoteError as exc:
        raise _Fail("error", f"{what}'s proof is malformed: {exc}") from None
    if proof.checkpoint.text != note.text or proof.index != position - 1:
        raise _Fail("proof_failed", f"{what}'s proof is for another leaf or tree", position)
    if not verify_inclusion(
        leaf_hash(digest), proof.index, body.tree_size, list(proof.path), body.root
    ):
        raise _Fail(
            "proof_failed",
            f"{what}'s inclusion proof does not lead to the checkpoint's root",
            position,
        )


def _complete(
    parsed: Sequence[Event],
    hashes: dict[int, bytes],
    subjects: Sequence[str],
    statements: dict[str, SubjectStatement],
    body: CheckpointBody,
) -> None:
    """4. Completeness: the events of each subject are exactly those the ledger signed."""
    filed = subjects_of(parsed)
    for subject in subjects:
        statement = statements[subject]
        entries = [(e.position, hashes[e.position]) for e in parsed if subject in filed[e.event_id]]
        count, digest = subject_digest(entries)
        if count < statement.count:
            raise _Fail(
                "event_removed",
                f"{statement.count - count} event(s) of {subject} up to tree size "
                f"{body.tree_size} are missing: the ledger signed {statement.count}, the "
                f"bundle has {count}",
            )
        if count > statement.count or digest != statement.digest:
            raise _Fail(
                "event_added",
                f"the events of {subject} are not those the ledger signed "
                f"({count} in the bundle, {statement.count} signed)",
            )
    wanted = set(subjects)
    for e in parsed:
        if not wanted & set(filed[e.event_id]):
            raise _Fail(
                "event_added",
                f"event {e.position} ({e.event_id}) is not an event of this answer",
                e.position,
            )


def _answer(
    report: EvidenceReport,
    doc: Any,
    parsed: Sequence[Event],
    hashes: dict[int, bytes],
    k: datetime,
    head: tuple[int, str] | None,
) -> None:
    """5. The answer, recomputed from the bundled events, is the bundled answer."""
    ordered: list[Event] = sorted(parsed, key=lambda e: e.position)
    query = doc["query"]
    try:
        if report.kind == "asset":
            t = parse(str(query["as_of"]))
            answer = asset_answer(History(ordered), report.asset_id or "", t, k)
        elif report.kind == "contract":
            assert head is not None
            t = parse(str(query["as_of"]))
            window = Window(_instant(query.get("from")), _instant(query.get("to")))
            answer = contract_answer(ordered, report.contract_id or "", t, k, head, window)
        else:
            if report.asset_id is not None:
                _check_contract(ordered, report.asset_id, query.get("contract_id"))
            answer = finding_answer(ordered, hashes, report.finding_key or "", k)
            # The finding must be of what the query names: its subjects are what was
            # checked complete (a contract's finding framed as an asset's is not).
            named = (query.get("asset_id"), query.get("contract_id"))
            if (answer.get("asset_id"), answer.get("contract_id")) != named:
                raise _Fail(
                    "answer_differs",
                    f"the finding is of asset {answer.get('asset_id')!r}, contract "
                    f"{answer.get('contract_id')!r}; the bundle names asset {named[0]!r}, "
                    f"contract {named[1]!r}",
                )
    except NoAnswer as exc:
        raise _Fail("answer_differs", f"the events give no answer: {exc}") from None
    given = orjson.loads(orjson.dumps(doc["answer"]))
    computed = orjson.loads(orjson.dumps(answer))
    if given != computed:
        report.differences = [
            f"{name}: bundled {given.get(name)!r}, recomputed {computed.get(name)!r}"
            for name in sorted(set(given) | set(computed))
            if given.get(name) != computed.get(name)
        ]
        raise _Fail(
            "answer_differs",
            "the answer recomputed from the bundled events is not the bundled answer",
        )


def _instant(value: object) -> datetime | None:
    return None if value is None else parse(str(value))


def _check_contract(events: Sequence[Event], asset_id: str, contract_id: object) -> None:
    """The contract a finding bundle names is the asset's, as its registration says."""
    for e in events:
        if e.type is EventType.ASSET_REGISTERED and asset_id in e.subjects:
            if e.text("contract_id") != contract_id:
                raise _Fail(
                    "answer_differs",
                    f"the bundle names contract {contract_id!r}, but the asset is registered "
                    f"under {e.text('contract_id')!r}",
                )
            return
    raise _Fail("event_removed", f"the registration of asset {asset_id} is not in the bundle")
