"""Building an evidence bundle for an answer: ``GET /v1/assets/{id}/evidence``.

One JSON document (``custody-ledger-evidence/1``, docs/decisions/0012) that a court can
be handed and ``ledger verify --evidence`` checks offline:

* ``query`` and ``answer`` — the asset's state at ``(as_of, known_at)`` as the API gives
  it (without its findings), computed by :func:`~.evidence_format.asset_answer` from
  exactly the bundled events;
* ``checkpoint`` — one checkpoint of the ledger's key that covers ``known_at`` (its
  signed time is at or after it), as a C2SP note with the witness cosignatures kept for
  it, and as the signed JSON checkpoint of the same size and root (which carries the
  time);
* ``events`` — every event filed under ``asset:<id>`` or ``ref`` up to that checkpoint
  (the asset's own events, every retraction and correction of them, every reference
  event), each as its stored bytes, its hash and a ``c2sp.org/tlog-proof@v1`` inclusion
  proof against the checkpoint;
* ``subjects`` — the signed subject statements (count and digest of those events per
  subject) that let the verifier show none was left out.

Without ``known_at`` the answer is as known at the checkpoint's time; without ``as_of``,
at ``known_at``.

A finding's bundle (``/v1/evidence/findings/{key}``) has the subjects its findings
depend on; a contract's (the report at ``/v1/contracts/{id}/evidence``, and a
contract-level finding) has the contract's base subjects, every registration (from
which the verifier reads the member assets) and each member's ``asset:<id>``, plus the
checkpoint's last event as ``head`` (the report's reproducibility block names it).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import parse, to_stored
from domain.rules.lives import Window
from domain.state import History
from ledger.errors import InvalidEventError, NotFoundError, Problem
from ledger.integrity.c2sp import CheckpointNotes
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.evidence_format import (
    FORMAT,
    NoAnswer,
    SubjectStatement,
    asset_answer,
    asset_subjects,
    contract_answer,
    contract_base_subjects,
    contract_members,
    finding_answer,
    finding_subjects,
    subject_digest,
)
from ledger.integrity.merkle import (
    HASH_SIZE,
    MerkleError,
    inclusion_proof,
    leaf_hash,
    node_hash,
)
from ledger.integrity.notes import Note, TlogProof
from ledger.integrity.store import (
    BLOCK_WIDTH,
    SUBTREE_WIDTH,
    IntegrityStore,
    StoredCheckpoint,
    fold_perfect,
)
from ledger.projections.custody import AMENDMENTS, own_subjects
from ledger.projections.custody_queries import REGISTRATIONS, asset_subject
from ledger.store.tables import event_index, events, subtrees

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger


class EvidenceBuilder:
    def __init__(self, ledger: Ledger) -> None:
        self.integrity = ledger.integrity
        self.reads = ledger.reads
        self.findings = ledger.findings
        self.timeout = ledger.settings.read_your_writes_timeout_seconds
        self.notes = CheckpointNotes(ledger.integrity)

    def _checkpoint(self, known_at: datetime | None) -> StoredCheckpoint:
        """The latest checkpoint if it covers ``known_at``; else one made now."""
        now = datetime.now(UTC)
        if known_at is not None and known_at > now:
            raise InvalidEventError(
                "known_at: no checkpoint can cover a knowledge time in the future",
                [Problem("known_at", "in the future")],
            )
        key_id = self.integrity.signer.key_id
        with self.integrity.engine.connect() as conn:
            latest = self.integrity.store.latest(conn, key_id)
        if latest is None or (
            known_at is not None and parse(latest.checkpoint.timestamp) < known_at
        ):
            made, _ = self.integrity.checkpoint()
            assert made is not None
            latest = made
        return latest

    def asset(
        self, asset_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        """The bundle of the asset's state at ``(as_of, known_at)``."""
        stored, k = self._covering(known_at)
        t = as_of or k
        subjects = asset_subjects(asset_id)
        rows, by_subject = self._rows(stored.tree_size, subjects)
        if not by_subject[subjects[0]]:
            raise NotFoundError(f"no asset {asset_id!r}", [Problem("asset_id", "unknown")])
        try:
            answer = asset_answer(History(_parsed(rows)), asset_id, t, k)
        except NoAnswer:
            raise NotFoundError(
                f"asset {asset_id!r} has no state at that time",
                [Problem("as_of", "before delivery")],
            ) from None
        query = {
            "kind": "asset",
            "asset_id": asset_id,
            "as_of": to_stored(t),
            "known_at": to_stored(k),
        }
        return self._bundle(stored, query, answer, rows, by_subject)

    def finding(self, finding_key: str, *, known_at: datetime | None) -> dict[str, Any]:
        """The bundle of one finding of an asset as known at ``known_at``, with its life."""
        stored, k = self._covering(known_at)
        # Which asset and contract: the findings projection says; the verifier checks it
        # (the recomputed finding names them, the registration names the contract).
        api = self.findings.get(finding_key, known_at=k)
        asset_id, contract_id = api.get("asset_id"), api.get("contract_id")
        if asset_id is None:
            # A contract-level finding (C01–C03) depends on every asset of the contract.
            if contract_id is None:
                raise NotFoundError(f"finding {finding_key!r} names neither asset nor contract")
            rows, by_subject = self._contract_rows(stored.tree_size, str(contract_id))
        else:
            subjects = finding_subjects(str(asset_id), contract_id)
            rows, by_subject = self._rows(stored.tree_size, subjects)
        parsed = _parsed(rows)
        try:
            hashes = {p: digest for p, (_, digest) in rows.items()}
            answer = finding_answer(parsed, hashes, finding_key, k)
        except NoAnswer as exc:
            raise NotFoundError(str(exc), [Problem("known_at", "not detected by then")]) from None
        query = {
            "kind": "finding",
            "finding_key": finding_key,
            "asset_id": asset_id,
            "contract_id": contract_id,
            "known_at": to_stored(k),
        }
        return self._bundle(stored, query, answer, rows, by_subject)

    def contract(
        self,
        contract_id: str,
        *,
        as_of: datetime | None,
        known_at: datetime | None,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
    ) -> dict[str, Any]:
        """The bundle of the contract report at ``(as_of, known_at)`` for a period: every
        event of the contract and of each of its assets, every registration (which says
        which assets those are), and the checkpoint's last event, which the report's
        reproducibility block names."""
        stored, k = self._covering(known_at)
        t = as_of or k
        size = stored.tree_size
        rows, by_subject = self._contract_rows(size, contract_id)
        parsed = _parsed(rows)
        window = Window(period_from, period_to)
        try:
            if contract_id not in History(parsed).reference(k).contracts:
                raise NoAnswer(contract_id)
            head = self._head(size)
            answer = contract_answer(parsed, contract_id, t, k, (size, head.hex()), window)
        except NoAnswer:
            raise NotFoundError(
                f"no contract {contract_id!r} known at {to_stored(k)}",
                [Problem("contract_id", "unknown")],
            ) from None
        query = {
            "kind": "contract",
            "contract_id": contract_id,
            "as_of": to_stored(t),
            "known_at": to_stored(k),
            "from": None if period_from is None else to_stored(period_from),
            "to": None if period_to is None else to_stored(period_to),
        }
        bundle = self._bundle(stored, query, answer, rows, by_subject)
        proof = _Proofs(self.integrity.store, size, [size]).inclusion(size - 1)
        note = Note.parse(bundle["checkpoint"]["note"])
        bundle["head"] = {
            "position": size,
            "hash": head.hex(),
            "proof": TlogProof(size - 1, tuple(proof), note).encode(),
        }
        return bundle

    # -- the parts every bundle shares ---------------------------------------------------

    def _contract_rows(
        self, size: int, contract_id: str
    ) -> tuple[dict[int, tuple[bytes, bytes]], dict[str, list[tuple[int, bytes]]]]:
        """The rows of a contract's answer: its base subjects, then each member asset's
        (the members are read off the registrations, as a verifier reads them)."""
        rows, by_subject = self._rows(size, contract_base_subjects(contract_id))
        registrations = _parsed({p: rows[p] for p, _ in by_subject[REGISTRATIONS]})
        members = contract_members(registrations, contract_id)
        more, more_by_subject = self._rows(size, [asset_subject(a) for a in members])
        rows.update(more)
        by_subject.update(more_by_subject)
        return rows, by_subject

    def _head(self, size: int) -> bytes:
        with self.integrity.engine.connect() as conn:
            found = conn.execute(
                sa.select(events.c.hash).where(events.c.notification_id == size)
            ).scalar_one_or_none()
        if found is None:
            raise IntegrityFailure(f"event {size}, the checkpoint's last, is not stored")
        return bytes(found)

    def _covering(self, known_at: datetime | None) -> tuple[StoredCheckpoint, datetime]:
        stored = self._checkpoint(known_at)
        return stored, known_at or parse(stored.checkpoint.timestamp)

    def _rows(
        self, size: int, subjects: list[str]
    ) -> tuple[dict[int, tuple[bytes, bytes]], dict[str, list[tuple[int, bytes]]]]:
        """The stored rows filed under ``subjects`` up to ``size``, and each subject's.

        The custody projection's index files the events it has applied; the ones after
        it (a checkpoint can be ahead of the projection) are read and filed here by the
        same rule (``subjects_of``), so a bundle never waits for the projection.
        """
        with self.integrity.engine.connect() as conn:
            indexed = min(self.reads.position(["custody"]), size)
            found: list[tuple[str, int, bytes, bytes]] = [
                (str(r[0]), int(r[1]), bytes(r[2]), bytes(r[3]))
                for r in conn.execute(
                    sa.select(
                        event_index.c.subject,
                        events.c.notification_id,
                        events.c.state,
                        events.c.hash,
                    )
                    .join(events, events.c.notification_id == event_index.c.position)
                    .where(event_index.c.subject.in_(subjects), event_index.c.position <= indexed)
                    .order_by(events.c.notification_id)
                )
            ]
            if indexed < size:
                found.extend(self._unindexed(conn, indexed, size, subjects))
        by_subject: dict[str, list[tuple[int, bytes]]] = {s: [] for s in subjects}
        rows: dict[int, tuple[bytes, bytes]] = {}
        for subject, position, state, digest in found:
            by_subject[subject].append((int(position), bytes(digest)))
            rows[int(position)] = (bytes(state), bytes(digest))
        return rows, by_subject

    def _bundle(
        self,
        stored: StoredCheckpoint,
        query: dict[str, Any],
        answer: dict[str, Any],
        rows: dict[int, tuple[bytes, bytes]],
        by_subject: dict[str, list[tuple[int, bytes]]],
    ) -> dict[str, Any]:
        cp = stored.checkpoint
        size = cp.tree_size
        note = self.notes.note_of(stored)
        signer = self.integrity.signer
        origin = self.notes.origin()
        statements = []
        for subject, entries in by_subject.items():
            count, digest = subject_digest(entries)
            statement = SubjectStatement(origin, size, cp.root_bytes, subject, count, digest)
            statements.append({"subject": subject, "statement": statement.sign(signer).encode()})
        out_events = []
        proofs = _Proofs(self.integrity.store, size, list(rows))
        for position, (state, digest) in sorted(rows.items()):
            if hashlib.sha256(state).digest() != digest:
                raise IntegrityFailure(f"event {position}: its stored hash is not its SHA-256")
            try:
                path = proofs.inclusion(position - 1)
            except MerkleError as exc:
                raise IntegrityFailure(
                    f"the stored log cannot prove event {position}: {exc}"
                ) from None
            out_events.append(
                {
                    "position": position,
                    "hash": digest.hex(),
                    "state": state.decode("utf-8"),
                    "proof": TlogProof(position - 1, tuple(path), note).encode(),
                }
            )
        return {
            "format": FORMAT,
            "query": query,
            "answer": answer,
            "log": {
                "origin": origin,
                "key_id": signer.key_id,
                "public_key": signer.public_key_b64,
                "vkey": self.notes.verifier().vkey(),
            },
            "checkpoint": {"note": note.encode(), "signed": cp.to_dict()},
            "subjects": statements,
            "events": out_events,
        }

    @staticmethod
    def _unindexed(
        conn: Connection, after: int, size: int, subjects: list[str]
    ) -> list[tuple[str, int, bytes, bytes]]:
        """Rows ``after+1 .. size`` filed under ``subjects``, filed as the projection would."""
        tail = conn.execute(
            sa.select(events.c.notification_id, events.c.state, events.c.hash)
            .where(events.c.notification_id > after, events.c.notification_id <= size)
            .order_by(events.c.notification_id)
        ).all()
        parsed = [Event.parse(int(p), orjson.loads(bytes(s)), owned=True) for p, s, _ in tail]
        targets = {e.target_event_id for e in parsed if e.type in AMENDMENTS and e.target_event_id}
        known: dict[str, list[str]] = {}
        for event_id, subject in conn.execute(
            sa.select(event_index.c.event_id, event_index.c.subject).where(
                event_index.c.event_id.in_(sorted(t for t in targets if t))
            )
        ):
            known.setdefault(event_id, []).append(subject)
        filed: dict[str, list[str]] = {}
        out: list[tuple[str, int, bytes, bytes]] = []
        for e, (position, state, digest) in zip(parsed, tail, strict=True):
            if e.type in AMENDMENTS:
                target = e.target_event_id or ""
                filed[e.event_id] = filed.get(target) or known.get(target, [])
            else:
                filed[e.event_id] = own_subjects(e)
            out.extend(
                (s, int(position), bytes(state), bytes(digest))
                for s in filed[e.event_id]
                if s in subjects
            )
        return out


def _parsed(rows: dict[int, tuple[bytes, bytes]]) -> list[Event]:
    return [Event.parse(p, orjson.loads(s), owned=True) for p, (s, _) in sorted(rows.items())]


class _Proofs:
    """Inclusion proofs of many leaves of one tree, from what is read once up front.

    One query reads every stored 1024-leaf subtree root below the tree size, one the
    32-leaf block roots of the subtrees holding the leaves, one the 32-leaf block around
    each leaf and the unfinished subtree at the end. A proof then folds those in memory: about 60 hashes
    instead of 1,024 leaf reads. Anything not stored (subtrees from before block roots
    were kept) falls back to the store's leaf reads, so the proofs are the same either
    way (RFC 6962; the verifier checks each one).
    """

    def __init__(self, store: IntegrityStore, size: int, positions: list[int]) -> None:
        self.store = store
        self.size = size
        self.blocks: dict[int, bytes] = {}
        self.leaves: dict[int, bytes] = {}
        self.memory: dict[tuple[int, int], bytes] = {}
        indexes = [p - 1 for p in positions]
        chunks = sorted({i - i % SUBTREE_WIDTH for i in indexes})
        with store.engine.connect() as conn:
            roots = {
                int(start): bytes(root)
                for start, root in conn.execute(
                    sa.select(subtrees.c.start, subtrees.c.root).where(
                        subtrees.c.start <= size - SUBTREE_WIDTH
                    )
                )
            }
            for i in range(0, len(chunks), 500):
                for start, blocks in conn.execute(
                    sa.select(subtrees.c.start, subtrees.c.blocks).where(
                        subtrees.c.start.in_(chunks[i : i + 500]),
                        subtrees.c.start <= size - SUBTREE_WIDTH,
                        subtrees.c.blocks.is_not(None),
                    )
                ):
                    self.blocks[int(start)] = bytes(blocks)
            # The leaves to read: the 32-leaf block of each leaf (its whole subtree if that
            # has no block roots), and the unfinished subtree at the end of the tree.
            tail = size - size % SUBTREE_WIDTH
            ranges: set[tuple[int, int]] = {(tail, size)} if tail < size else set()
            for index in indexes:
                chunk = index - index % SUBTREE_WIDTH
                if chunk in self.blocks:
                    block = index - index % BLOCK_WIDTH
                    ranges.add((block, block + BLOCK_WIDTH))
                else:
                    ranges.add((chunk, min(chunk + SUBTREE_WIDTH, size)))
            wanted = sorted({i + 1 for a, b in ranges for i in range(a, b)})
            for i in range(0, len(wanted), 20_000):
                for position, digest in conn.execute(
                    sa.select(events.c.notification_id, events.c.hash).where(
                        events.c.notification_id.in_(wanted[i : i + 20_000])
                    )
                ):
                    self.leaves[int(position) - 1] = leaf_hash(bytes(digest))
        # Every aligned subtree of 1024 leaves or more, level by level from the stored
        # roots (about two hashes per stored root): a proof then only looks them up.
        level = {(start, start + SUBTREE_WIDTH): root for start, root in roots.items()}
        width = SUBTREE_WIDTH
        while level:
            self.memory.update(level)
            width *= 2
            level = {
                (start, start + width): node_hash(left, right)
                for (start, _), left in level.items()
                if start % width == 0
                and (right := level.get((start + width // 2, start + width))) is not None
            }

    # -- SubtreeCache --------------------------------------------------------------------

    def get(self, start: int, end: int) -> bytes | None:
        hit = self.memory.get((start, end))
        if hit is not None or end - start >= SUBTREE_WIDTH or end - start < BLOCK_WIDTH:
            return hit
        chunk = start - start % SUBTREE_WIDTH
        blocks = self.blocks.get(chunk)
        if blocks is None:
            return None
        first = (start - chunk) // BLOCK_WIDTH * HASH_SIZE
        raw = blocks[first : first + (end - start) // BLOCK_WIDTH * HASH_SIZE]
        result = fold_perfect([raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])
        self.memory[(start, end)] = result
        return result

    def put(self, start: int, end: int, root: bytes) -> None:
        self.memory[(start, end)] = root

    # -- the leaf source -----------------------------------------------------------------

    def leaf_range(self, start: int, end: int) -> list[bytes]:
        found = [self.leaves.get(i) for i in range(start, end)]
        if all(leaf is not None for leaf in found):
            return [leaf for leaf in found if leaf is not None]
        return self.store.leaf_hashes(start, end)

    def inclusion(self, index: int) -> list[bytes]:
        return inclusion_proof(index, self.size, self.leaf_range, subtree_cache=self)
