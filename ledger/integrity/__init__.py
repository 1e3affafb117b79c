"""Tamper evidence for the ledger: RFC 6962 Merkle trees over the event hashes, signed
checkpoints, and the export bundle with its offline verifier (SPEC.md §4).

Nothing here touches the database or the network: the ledger hands these modules
leaf hashes, keys and byte streams, so the same code runs inside the server and in an
auditor's offline ``ledger verify``.
"""
