"""Evidence bundles over a log longer than one stored subtree: the proofs read from the
32-leaf block roots kept with each 1024-leaf subtree (migration 0008) verify, and are
the very proofs computed from the leaves when those roots are missing (rows stored
before 0009); and tampering with the database under a bundle is refused."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from ledger.bootstrap import Ledger
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.evidence import EvidenceBuilder
from ledger.integrity.evidence_verify import verify_evidence
from ledger.integrity.merkle import inclusion_proof
from ledger.integrity.store import BLOCK_WIDTH, SUBTREE_WIDTH, fold_perfect
from ledger.store.tables import subtrees
from tests import wire
from tests.integration.integrity_helpers import append, head


def _grow(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(20)])
    holders = ("iq-army", "isil")
    for batch in range(5):
        # t0 moves once per batch: its events sit in different 1024-leaf subtrees.
        events = [
            wire.capture([f"t{1 + (batch * 499 + i) % 19}"], holders[i % 2]) for i in range(499)
        ]
        events.append(wire.transfer(["t0"], holders[batch % 2], holders[(batch + 1) % 2]))
        append(ledger, events)
    ledger.runner.catch_up()


def test_block_roots_are_stored_and_fold_to_the_subtree_root(ledger: Ledger) -> None:
    _grow(ledger)
    ledger.integrity.checkpoint()
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(subtrees.c.start, subtrees.c.root, subtrees.c.blocks)).all()
    assert len(rows) == head(ledger) // SUBTREE_WIDTH >= 2
    for start, root, blocks in rows:
        blocks = bytes(blocks)
        assert len(blocks) == SUBTREE_WIDTH // BLOCK_WIDTH * 32
        parts = [blocks[i : i + 32] for i in range(0, len(blocks), 32)]
        assert fold_perfect(parts) == bytes(root)
        leaves = ledger.integrity.store.leaf_hashes(start, start + BLOCK_WIDTH)
        assert fold_perfect(leaves) == parts[0]


def test_evidence_proofs_with_and_without_block_roots_are_the_same(ledger: Ledger) -> None:
    _grow(ledger)
    ledger.integrity.checkpoint()
    builder = EvidenceBuilder(ledger)
    bundle = builder.asset("t0", as_of=None, known_at=None)
    key = bundle["log"]["public_key"]
    assert verify_evidence(bundle, key).exit_code == 0
    positions = [e["position"] for e in bundle["events"]]
    assert max(positions) > SUBTREE_WIDTH  # some proofs use the stored blocks
    size = bundle["checkpoint"]["signed"]["tree_size"]
    for item in bundle["events"]:
        expected = inclusion_proof(item["position"] - 1, size, ledger.integrity.store.leaf_hashes)
        lines = item["proof"].split("\n\n")[0].split("\n")[2:]
        assert [base64.b64decode(x) for x in lines] == expected
    with ledger.engine.begin() as conn:
        conn.execute(subtrees.update().values(blocks=None))
    again = EvidenceBuilder(ledger).asset("t0", as_of=None, known_at=None)
    assert [e["proof"] for e in again["events"]] == [e["proof"] for e in bundle["events"]]


def test_an_event_of_the_asset_rewritten_in_the_database_is_refused(ledger: Ledger) -> None:
    _grow(ledger)
    ledger.integrity.checkpoint()
    builder = EvidenceBuilder(ledger)
    bundle = builder.asset("t0", as_of=None, known_at=None)
    target = next(e for e in bundle["events"] if '"custody_transferred"' in e["state"])
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE ledger_events SET state = :s WHERE notification_id = :p"),
            {
                "s": target["state"].replace("reassignment", "sold").encode(),
                "p": target["position"],
            },
        )
    with pytest.raises(IntegrityFailure):
        EvidenceBuilder(ledger).asset("t0", as_of=None, known_at=None)
