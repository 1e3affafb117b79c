"""The reference implementation of the CBV 2.0 event hash (``epcis-event-hash-generator``),
run the way the ledger's own hash is defined: one event at a time, each in a fresh
state (the library keeps the namespaces of every document it has read in a global)."""

from __future__ import annotations

import copy
from typing import Any

from epcis_event_hash_generator import hash_generator, json_to_py


def reference_hash_ids(doc: dict[str, Any]) -> list[str]:
    out = []
    for event in doc["epcisBody"]["eventList"]:
        single = {**copy.deepcopy(doc), "epcisBody": {"eventList": [copy.deepcopy(event)]}}
        json_to_py._namespaces = {}
        events = json_to_py.event_list_from_epcis_document_json(single)
        (found,) = hash_generator.epcis_hashes_from_events(events)
        out.append(found)
    return out


def reference_hash_ids_of_document(doc: dict[str, Any]) -> list[str]:
    """The library on the whole document at once, as its command line runs it."""
    json_to_py._namespaces = {}
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(doc))
    found: list[str] = hash_generator.epcis_hashes_from_events(events)
    return found
