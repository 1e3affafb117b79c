"""Tamper evidence for the ledger: RFC 6962 Merkle trees over the event hashes, signed
checkpoints, the export bundle with its offline verifier (SPEC.md §4), and their
persistence and use cases.

``merkle``, ``checkpoints`` and ``bundle`` touch neither the database nor the network:
the ledger hands them leaf hashes, keys and byte streams, so the same code runs inside
the server and in an auditor's offline ``ledger verify``. ``store`` and ``service``
are the ledger's side: checkpoints, subtree roots, proofs and export over the event
store.
"""
