"""Tamper evidence for the ledger: RFC 6962 Merkle trees over the event hashes, signed
checkpoints, the export bundle with its offline verifier (SPEC.md §4), and their
persistence and use cases.

Pure (no database, no network; the same code runs in the server and in an auditor's
offline ``ledger verify``):

* ``merkle`` — trees, frontiers, inclusion and consistency proofs;
* ``checkpoints`` — signed checkpoints and the Ed25519 key;
* ``bundle_format`` — the ``custody-ledger-bundle/1`` format, its line shapes and parsing;
* ``bundle_writer`` — writing a bundle;
* ``bundle_verify`` — ``verify_bundle``: header and metadata lines, then
  ``bundle_events`` (the event lines), then ``bundle_trust`` (roots, proofs, what is
  signed), all recording into ``bundle_evidence``, concluding in ``bundle_report``.

The ledger's side, over the event store:

* ``store`` — checkpoint, subtree and leaf-hash persistence;
* ``service`` — ``IntegrityService``: checkpoints (on demand and periodic), proofs;
* ``export`` — streaming an export bundle;
* ``verify_live`` — ``verify_database``, a live database judged as a bundle;
* ``notes`` (pure) — C2SP signed notes, checkpoints, cosignatures, tlog-proofs;
* ``c2sp`` — the ledger's checkpoint notes and the witness cosignatures it keeps;
* ``evidence``, ``evidence_format``, ``evidence_verify`` — evidence bundles for an
  answer: built over the store, checked offline (docs/decisions/0012);
* ``witness`` — a witness (tlog-witness add-checkpoint) and its follower;
* ``errors`` — ``IntegrityFailure``.
"""
