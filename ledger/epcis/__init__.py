"""GS1 EPCIS 2.0: the ledger's events as an ``EPCISDocument`` and back (issue #14).

``mapping`` holds the pure mapping (docs/epcis.md is its table), ``event_hash`` the CBV
2.0 event hash, ``schema`` the validation against GS1's JSON Schema; ``service`` is the
only part that reads the log or appends, through the normal append path.
"""
