"""The evidence bundle's pieces that both sides compute the same way: the answer from
the bundled events, the subjects an event is filed under, and the signed subject
statement that makes a bundle complete (docs/decisions/0012).

Pure: the builder (over the database) and ``ledger verify --evidence`` (offline) call
the same functions, so "the same domain fold and rules" is one code path, not two.

**Subject statements.** The custody projection files every event under subjects
(:func:`ledger.projections.custody.own_subjects`: ``asset:<id>`` for each asset it
concerns, ``ref`` for reference data, …; a retraction or correction under its target's).
An asset's answer is a function of the events filed under ``asset:<id>`` and ``ref``
(the same two the API folds). For each, the bundle carries a note signed by the
ledger's key::

    custody-ledger/subject-digest/v1
    <origin>
    <tree size>
    <base64 root>                       the checkpoint's, so the statement binds to it
    <subject>
    <count>                             events of the subject at positions <= tree size
    <base64 SHA-256 over (u64 position || event hash) of each, in position order>

A verifier recomputes count and digest from the bundled events (their positions come
from their inclusion proofs): an event left out, added or swapped changes them. The
first line keeps a statement from ever being read as a checkpoint (whose second line
is a decimal).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.frozen import thaw
from domain.history import Event
from domain.instants import to_stored
from domain.rules import life
from domain.rules.lives import Window
from domain.rules.report import contract_report
from domain.state import History
from domain.vocabulary import EventType
from ledger.integrity.checkpoints import Signer
from ledger.integrity.notes import Note, NoteError, sign_note
from ledger.projections.codec import asset_view, life_view, observation_json
from ledger.projections.custody import AMENDMENTS, own_subjects
from ledger.projections.custody_queries import (
    FINDING,
    INVENTORIES,
    REF,
    REGISTRATIONS,
    asset_subject,
    contract_subject,
)

FORMAT = "custody-ledger-evidence/1"
STATEMENT_HEADER = "custody-ledger/subject-digest/v1"


class NoAnswer(ValueError):
    """The asset has no state at that valid time (before its delivery)."""


def asset_answer(history: History, asset_id: str, t: datetime, k: datetime) -> dict[str, Any]:
    """The asset's state at ``(t, k)`` as ``GET /v1/assets/{id}`` gives it (without its
    findings): the same fold as ``ledger.reading.custody.Reads.asset``."""
    folded = history.state(asset_id, t, k)
    if folded is None:
        raise NoAnswer(f"asset {asset_id!r} has no state at {to_stored(t)}")
    observation = None
    for e in history.known(k).of_asset(asset_id):
        if e.type is EventType.OBSERVATION and e.occurred_at <= t:
            observation = observation_json(e)
    ref = history.reference(k)
    return asset_view(folded, ref, t, k, observation)


def asset_subjects(asset_id: str) -> list[str]:
    """What an asset's state depends on: its events (with their amendments) and the
    reference data — the same two subjects ``Reads.asset`` folds."""
    return [asset_subject(asset_id), REF]


def contract_base_subjects(contract_id: str) -> list[str]:
    """What a contract's answers depend on besides its assets: the reference data, every
    disposition, every inventory (R14 names an asset an inventory of its custodian does
    not list, whatever contract that inventory was taken for), the contract's own events,
    and every registration, from which a verifier learns the contract's assets."""
    return [REF, FINDING, INVENTORIES, contract_subject(contract_id), REGISTRATIONS]


def contract_members(events: Iterable[Event], contract_id: str) -> list[str]:
    """The assets a contract may have at some knowledge time: those whose registration
    names ``contract_id`` (in its payload or its envelope), and those whose registration
    any correction — applicable or not, retracted or not — gives that id anywhere among
    its values. A superset of what the fold takes for the contract's assets at every
    knowledge time (which depends on which corrections are retracted, and in what
    knowledge order they apply), so a verifier can demand every one's statement."""
    ordered = sorted(events, key=lambda e: e.position)
    registrations = {e.event_id: e for e in ordered if e.type is EventType.ASSET_REGISTERED}
    named = {
        event_id
        for event_id, e in registrations.items()
        if contract_id in (e.text("contract_id"), e.contract_id)
    }
    for e in ordered:
        if (
            e.type is EventType.EVENT_CORRECTED
            and e.target_event_id in registrations
            and _holds(e.corrected_fields, contract_id)
        ):
            named.add(e.target_event_id)
    return sorted({a for event_id in named for a in registrations[event_id].subjects})


def _holds(value: object, text: str) -> bool:
    """Whether ``text`` is ``value`` or any string inside it (keys and values)."""
    if isinstance(value, str):
        return value == text
    if isinstance(value, Mapping):
        return any(_holds(k, text) or _holds(v, text) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds(v, text) for v in value)
    return False


def contract_subjects(contract_id: str, members: Iterable[str]) -> list[str]:
    """Every subject of a contract's answer: the base subjects and each member asset's."""
    return [*contract_base_subjects(contract_id), *(asset_subject(a) for a in sorted(members))]


def contract_answer(
    events: Sequence[Event],
    contract_id: str,
    t: datetime,
    k: datetime,
    head: tuple[int, str],
    window: Window,
) -> dict[str, Any]:
    """The contract report at ``(t, k)`` for ``window`` as ``GET
    /v1/contracts/{id}/report`` computes it when it folds the log: the same domain
    function over the bundled events, with every finding's life walked from them (all
    knowledge up to the checkpoint). ``head`` is the checkpoint's last event (position,
    hash hex), which the report's reproducibility block names."""
    ordered = sorted(events, key=lambda e: e.position)
    history = History(ordered)
    if contract_id not in history.reference(k).contracts:
        raise NoAnswer(f"no contract {contract_id!r} is known at {to_stored(k)}")
    report = contract_report(
        history,
        contract_id,
        as_of=t,
        known_at=k,
        head_position=head[0],
        head_hash=head[1],
        period=window,
    )
    return report.to_dict()


def finding_subjects(asset_id: str, contract_id: str | None) -> list[str]:
    """What the findings of an asset depend on: its state's inputs, its contract's
    actions (C04, C05), every inventory (R14's "expected but not found" names an asset
    an inventory does not list) and every disposition."""
    subjects = [asset_subject(asset_id), REF, FINDING, INVENTORIES]
    if contract_id is not None:
        subjects.append(contract_subject(contract_id))
    return subjects


def finding_answer(
    events: Sequence[Event], hashes: Mapping[int, bytes], finding_key: str, k: datetime
) -> dict[str, Any]:
    """The finding as ``GET /v1/findings/{key}?known_at=k`` gives it — the version then
    known, its evidence events and its life up to ``k`` — walked through knowledge time
    over ``events`` with the rule catalogue (``domain.rules.life``)."""
    ordered = sorted(events, key=lambda e: e.position)
    fl = life(History(ordered)).get(finding_key)
    if fl is None:
        raise NoAnswer(f"the events imply no finding {finding_key!r}")
    current = fl.at(k)
    if current is None:
        raise NoAnswer(f"finding {finding_key!r} was not yet detected at {to_stored(k)}")
    by_id = {e.event_id: e for e in ordered}
    view = current.to_dict()
    view["evidence_events"] = [
        {
            **thaw(by_id[e].record),
            "position": by_id[e].position,
            "hash": hashes[by_id[e].position].hex(),
        }
        for e in current.evidence
        if e in by_id
    ]
    view["life"] = life_view(fl, k)
    return view


def subjects_of(events: Sequence[Event]) -> dict[str, list[str]]:
    """The subjects each event is filed under, as the custody projection files them;
    an amendment whose target is not among ``events`` gets none."""
    out: dict[str, list[str]] = {}
    for e in sorted(events, key=lambda e: e.position):
        if e.type in AMENDMENTS:
            out[e.event_id] = list(out.get(e.target_event_id or "", []))
        else:
            out[e.event_id] = own_subjects(e)
    return out


def subject_digest(entries: Iterable[tuple[int, bytes]]) -> tuple[int, bytes]:
    """``(count, SHA-256 over u64 position || hash, in position order)``."""
    h = hashlib.sha256()
    count = 0
    for position, digest in sorted(entries):
        h.update(struct.pack(">Q", position) + digest)
        count += 1
    return count, h.digest()


@dataclass(frozen=True, slots=True)
class SubjectStatement:
    origin: str
    tree_size: int
    root: bytes
    subject: str
    count: int
    digest: bytes

    def text(self) -> str:
        lines = [
            STATEMENT_HEADER,
            self.origin,
            str(self.tree_size),
            base64.b64encode(self.root).decode(),
            self.subject,
            str(self.count),
            base64.b64encode(self.digest).decode(),
        ]
        return "".join(f"{line}\n" for line in lines)

    def sign(self, signer: Signer) -> Note:
        text = self.text()
        return Note(text, (sign_note(text, self.origin, signer),))

    @classmethod
    def parse(cls, text: str) -> SubjectStatement:
        lines = text.split("\n")
        if len(lines) != 8 or lines[0] != STATEMENT_HEADER or lines[-1] != "":
            raise NoteError("not a subject statement")
        try:
            return cls(
                lines[1],
                int(lines[2]),
                base64.b64decode(lines[3], validate=True),
                lines[4],
                int(lines[5]),
                base64.b64decode(lines[6], validate=True),
            )
        except ValueError:
            raise NoteError("a subject statement's numbers or hashes are malformed") from None
