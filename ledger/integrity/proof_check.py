"""Checking one proof document offline: what ``GET /v1/audit/proof/{event_id}`` (an
inclusion proof) or ``GET /v1/audit/consistency`` (a consistency proof) returned, saved
to a file — ``ledger verify --proof FILE``.

An inclusion proof is valid when its checkpoint is signed by the trusted key and the
RFC 6962 audit path leads from the event's leaf hash to that checkpoint's root; a
consistency proof when both checkpoints are signed by the trusted key and the proof
shows the second tree extends the first. Without a pinned key the document's own key
is used, which proves the document consistent, not that it is the ledger's: the report
says ``key_pinned: false``. Never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.integrity.bundle_report import Failure, Verdict, VerifyReport, error_report
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.merkle import leaf_hash, verify_consistency, verify_inclusion


def verify_proof_document(doc: Any, trusted_public_key: bytes | str | None = None) -> VerifyReport:
    """Verify an inclusion or consistency proof document (see the module docstring)."""
    if not isinstance(doc, Mapping):
        return error_report("not a proof document: not a JSON object")
    try:
        embedded = parse_public_key(str(doc.get("public_key", "")))
    except CheckpointFormatError:
        embedded = None
    try:
        pinned = parse_public_key(trusted_public_key) if trusted_public_key else None
    except CheckpointFormatError as exc:
        return error_report(f"the trusted public key is invalid: {exc}")
    key = pinned or embedded
    if key is None:
        return error_report("the document names no valid public key; give --public-key")
    report = VerifyReport(key_id=key_id_for(key), key_pinned=pinned is not None)
    if pinned is not None and embedded is not None and embedded != pinned:
        _tampered(report, f"the document names key {key_id_for(embedded)}, not the pinned key")
        return report
    try:
        if "event_id" in doc:
            _inclusion(report, doc, key)
        elif "from" in doc and "to" in doc:
            _consistency(report, doc, key)
        else:
            return error_report(
                "not a proof document: neither an inclusion nor a consistency proof"
            )
    except (KeyError, TypeError, ValueError, CheckpointFormatError) as exc:
        return error_report(f"not a well-formed proof document: {type(exc).__name__}: {exc}")
    return report


def _checkpoint(report: VerifyReport, raw: Any, key: bytes, name: str) -> Checkpoint | None:
    cp = Checkpoint.from_dict(dict(raw))
    report.checkpoints += 1
    if not verify_checkpoint(cp, key):
        _tampered(report, f"{name} ({cp.tree_size}) is not validly signed by key {key_id_for(key)}")
        return None
    return cp


def _inclusion(report: VerifyReport, doc: Mapping[str, Any], key: bytes) -> None:
    cp = _checkpoint(report, doc["checkpoint"], key, "the checkpoint")
    position = int(doc["position"])
    digest = bytes.fromhex(str(doc["hash"]))
    proof = [bytes.fromhex(str(p)) for p in doc["proof"]]
    report.inclusion_proofs = 1
    report.last_position = position
    if cp is None:
        return
    if int(doc["tree_size"]) != cp.tree_size or int(doc["leaf_index"]) != position - 1:
        _tampered(report, "the proof's tree size or leaf index does not match", position)
        return
    leaf = leaf_hash(digest)
    if "leaf_hash" in doc and bytes.fromhex(str(doc["leaf_hash"])) != leaf:
        _tampered(report, "leaf_hash is not the RFC 6962 leaf hash of the event's hash", position)
        return
    if not verify_inclusion(leaf, position - 1, cp.tree_size, proof, cp.root_bytes):
        _tampered(
            report,
            f"event {position}'s audit path does not lead to the root of checkpoint {cp.tree_size}",
            position,
        )
        return
    report.signed_through = cp.tree_size


def _consistency(report: VerifyReport, doc: Mapping[str, Any], key: bytes) -> None:
    first = _checkpoint(report, doc["from_checkpoint"], key, "the first checkpoint")
    second = _checkpoint(report, doc["to_checkpoint"], key, "the second checkpoint")
    proof = [bytes.fromhex(str(p)) for p in doc["proof"]]
    report.consistency_proofs = 1
    if first is None or second is None:
        return
    if (int(doc["from"]), int(doc["to"])) != (first.tree_size, second.tree_size):
        _tampered(report, "the proof's sizes are not its checkpoints' sizes")
        return
    if not verify_consistency(
        first.tree_size, second.tree_size, proof, first.root_bytes, second.root_bytes
    ):
        _tampered(
            report,
            f"the tree of checkpoint {second.tree_size} does not extend that of checkpoint "
            f"{first.tree_size} by this proof",
            first.tree_size,
        )
        return
    report.signed_through = second.tree_size


def _tampered(report: VerifyReport, reason: str, position: int | None = None) -> None:
    report.failures.append(Failure(Verdict.TAMPERED, reason, position))
    report.failures_total += 1
    if report.verdict != Verdict.TAMPERED:
        report.verdict, report.exit_code = Verdict.TAMPERED, 1
        report.reason, report.first_position = reason, position
