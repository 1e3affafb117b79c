"""The CBV 2.0 event hash (``ni:///sha-256;…?ver=CBV2.0``) of one EPCIS 2.0 JSON event.

A port of the reference implementation (``epcis-event-hash-generator`` 1.9.3, MIT,
Ralph Troeger and Sebastian Schmittner): the event becomes the XML-shaped tree the
algorithm walks, the properties are concatenated in the canonical order, then the rest
(user extensions) sorted, and the string is hashed. It differs from the reference in how
it runs, not in what it computes, for the documents the ledger writes and the standard's
examples (``tests/integration/test_epcis_hash.py`` checks both against the library):

- no JSON-LD processor: bare CBV words of the vocabulary fields (``bizStep``,
  ``disposition``, source/destination and transaction types, …) expand from a fixed
  table, where the reference expands the document with the GS1 context and so fetches
  any other context from the network — a server must not fetch what a client names;
- no module state: the reference keeps the namespaces and the separator in globals
  (its namespaces even accumulate from one document to the next), which threads serving
  requests cannot share;
- per event: the reference replaces a bare value anywhere in a *document* by a CBV
  URI expanded anywhere in that document, so an event's hash can depend on its
  neighbours; here the scope is the event itself, which equals the reference run on a
  document of that one event.

GS1 identifiers are normalised to canonical Digital Link URIs by the reference's own
normaliser, vendored unchanged (``ledger.epcis.gs1_digital_link``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.epcis.gs1_digital_link import normaliser as _vendored_normaliser

_dl_normaliser: Callable[[str], str | None] = _vendored_normaliser

Node = tuple[Any, str, list[Any]]
"""The reference's tree: (name, text, children)."""

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"

# The vocabulary fields whose bare words the GS1 context expands (``@type: @vocab``),
# with the prefix each expands to; paths are keys from the event down.
_VOCAB_FIELDS: dict[tuple[str, ...], str] = {
    ("bizStep",): CBV + "BizStep-",
    ("disposition",): CBV + "Disp-",
    ("persistentDisposition", "set"): CBV + "Disp-",
    ("persistentDisposition", "unset"): CBV + "Disp-",
    ("sourceList", "type"): CBV + "SDT-",
    ("destinationList", "type"): CBV + "SDT-",
    ("bizTransactionList", "type"): CBV + "BTT-",
    ("errorDeclaration", "reason"): CBV + "ER-",
    ("sensorElementList", "sensorReport", "type"): GS1_VOC,
    ("sensorElementList", "sensorReport", "exception"): GS1_VOC,
    ("sensorElementList", "sensorReport", "component"): GS1_VOC,
}

PROP_ORDER: list[tuple[Any, Any]] = [
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", [("epc", None)]),
    ("inputEPCList", [("epc", None)]),
    ("childEPCs", [("epc", None)]),
    (
        "quantityList",
        [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])],
    ),
    (
        "childQuantityList",
        [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])],
    ),
    (
        "inputQuantityList",
        [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])],
    ),
    ("outputEPCList", [("epc", None)]),
    (
        "outputQuantityList",
        [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])],
    ),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]),
    ("bizLocation", [("id", None)]),
    ("bizTransactionList", [(("type", None), ("bizTransaction", None))]),
    ("sourceList", [(("type", None), ("source", None))]),
    ("destinationList", [(("type", None), ("destination", None))]),
    (
        "sensorElementList",
        [
            (
                "sensorElement",
                [
                    (
                        "sensorMetadata",
                        [
                            (k, None)
                            for k in (
                                "time",
                                "startTime",
                                "endTime",
                                "deviceID",
                                "deviceMetadata",
                                "rawData",
                                "dataProcessingMethod",
                                "bizRules",
                            )
                        ],
                    ),
                    (
                        "sensorReport",
                        [
                            (k, None)
                            for k in (
                                "type",
                                "exception",
                                "deviceID",
                                "deviceMetadata",
                                "rawData",
                                "dataProcessingMethod",
                                "time",
                                "microorganism",
                                "chemicalSubstance",
                                "value",
                                "component",
                                "stringValue",
                                "booleanValue",
                                "hexBinaryValue",
                                "uriValue",
                                "minValue",
                                "maxValue",
                                "meanValue",
                                "sDev",
                                "percRank",
                                "percValue",
                                "uom",
                                "coordinateReferenceSystem",
                            )
                        ],
                    ),
                ],
            )
        ],
    ),
]
"""The canonical property order (the reference's ``PROP_ORDER``)."""

_IGNORED = ("recordTime", "eventID", "type", "errorDeclaration")
_UNSORTED = ("bizTransaction", "source", "destination")


def namespaces(context: Any) -> dict[str, str]:
    """Prefix → ``{IRI}`` from a document's ``@context`` (its inline objects)."""
    found: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for c in items:
        if isinstance(c, str):
            found[c] = "{" + c + "}"
        elif isinstance(c, Mapping):
            for key, value in c.items():
                if isinstance(value, str):
                    found[key] = "{" + value + "}"
    return found


# --- expanding bare CBV words (what the reference does with JSON-LD) ----------------------


def _vocabulary_values(event: Mapping[str, Any]) -> set[str]:
    """The CBV and GS1 URIs the event's values expand to, or already are."""
    found: set[str] = set()

    def at(node: Any, path: tuple[str, ...], prefix: str) -> None:
        if isinstance(node, list):
            for item in node:
                at(item, path, prefix)
        elif not path:
            if isinstance(node, str):
                found.add(node if ":" in node else prefix + node)
        elif isinstance(node, Mapping) and path[0] in node:
            at(node[path[0]], path[1:], prefix)

    for path, prefix in _VOCAB_FIELDS.items():
        at(event, path, prefix)

    def every(node: Any) -> None:
        if isinstance(node, str):
            if node.startswith((CBV, GS1_VOC)):
                found.add(node)
        elif isinstance(node, list):
            for item in node:
                every(item)
        elif isinstance(node, Mapping):
            for value in node.values():
                every(value)

    every(event)
    return {v for v in found if v.startswith((CBV, GS1_VOC))}


def _replace_bare(node: Any, expanded: set[str]) -> Any:
    """Every string value that names exactly one expanded URI by its last segment
    becomes that URI (the reference's heuristic)."""
    if isinstance(node, str):
        matches = [x for x in expanded if x.endswith("-" + node) or x.endswith("/" + node)]
        return matches[0] if len(matches) == 1 else node
    if isinstance(node, list):
        return [_replace_bare(item, expanded) for item in node]
    if isinstance(node, Mapping):
        return {k: _replace_bare(v, expanded) for k, v in node.items()}
    return node


# --- the tree ------------------------------------------------------------------------------


def _namespace_replace(text: Any, spaces: Mapping[str, str], is_value: bool = False) -> Any:
    if not isinstance(text, str):
        return text
    prefix, sep, rest = text.partition(":")
    if sep and prefix in spaces:
        if is_value:
            return spaces[prefix].replace("{", "").replace("}", "") + rest
        return spaces[prefix] + rest
    return text


def _py_text(value: Any) -> str:
    """A scalar as the reference turns it into text (Python's ``str``)."""
    return str(value)


def _to_tree(obj: Any, spaces: Mapping[str, str]) -> Node:
    node: Node = ("", "", [])
    if isinstance(obj, list):
        for child in obj:
            node[2].append(_to_tree(child, spaces))
    elif isinstance(obj, Mapping):
        if "type" in obj:
            node = (obj["type"], "", [])
        if "#text" in obj:
            node = (node[0], obj["#text"], node[2])
        for key, val in obj.items():
            if key in ("#text", "rdfs:comment", "comment"):
                continue
            child = _to_tree(val, spaces)
            name = _namespace_replace(key, spaces)
            if isinstance(val, list):
                for element in child[2]:
                    node[2].append((name, element[1], element[2]))
            else:
                node[2].append((name, child[1], child[2]))
    else:
        return "", _py_text(_namespace_replace(obj, spaces, True)), []
    if not [k for k in _UNSORTED if k in obj]:
        node[2].sort()
    return node


def _xml_shape(node: Node) -> Node:
    """The reference's correction of the JSON model to the XML one."""
    children: list[Any] = list(node[2]) if len(node) > 2 else []
    lists: dict[str, list[Node]] = {}
    for element in [e for e in children if not isinstance(e[0], tuple) and e[0].endswith("List")]:
        lists.setdefault(element[0], []).append((element[0][:-4], element[1], element[2]))
        children.remove(element)
    for list_name, elements in lists.items():
        if list_name in ("sourceList", "destinationList", "bizTransactionList"):
            children.append((list_name, "", [(e[2][0], e[2][1]) for e in elements]))
        else:
            children.append((list_name, "", elements))
    child_epcs: list[Node] = []
    for element in [e for e in children if e[0] == "childEPCs"]:
        child_epcs.append(("epc", element[1], []))
        children.remove(element)
    if child_epcs:
        children.append(("childEPCs", "", child_epcs))
    corrected = [
        e if e[0] in ("sourceList", "destinationList", "bizTransactionList") else _xml_shape(e)
        for e in children
    ]
    name, text = node[0], node[1]
    if name in ("inputEPC", "outputEPC"):
        return "epc", text, corrected
    if name in ("inputQuantity", "outputQuantity", "childQuantity") or (
        name == "quantity" and len(corrected) > 0
    ):
        return "quantityElement", text, corrected
    return name, text, corrected


# --- the pre-hash string -------------------------------------------------------------------


def _timestamp(text: str) -> str:
    """UTC at millisecond precision with ``Z`` (the reference's format)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the reference reads a naive time as local too
    parsed = parsed.astimezone(UTC)
    millis = round(parsed.microsecond, -3)
    if millis == 1_000_000:  # the reference fails here; the next second is the value
        parsed = parsed.replace(microsecond=0) + timedelta(seconds=1)
    else:
        parsed = parsed.replace(microsecond=millis)
    return parsed.isoformat(timespec="milliseconds")[:-6] + "Z"


def _numeric(text: str) -> str:
    try:
        number = float(text)
        if int(number) == number:
            return str(int(number))
        return str(number)
    except (ValueError, OverflowError):
        return text


def _web_vocabulary(text: str) -> str:
    if "urn:epcglobal:cbv:" not in text:
        return text
    return (
        text.replace("urn:epcglobal:cbv:bizstep:", CBV + "BizStep-")
        .replace("urn:epcglobal:cbv:disp:", CBV + "Disp-")
        .replace("urn:epcglobal:cbv:btt:", CBV + "BTT-")
        .replace("urn:epcglobal:cbv:sdt:", CBV + "SDT-")
        .replace("urn:epcglobal:cbv:er:", CBV + "ER-")
    )


def _canonical(text: str) -> str:
    text = _numeric(_web_vocabulary(text))
    # The normaliser knows EPC URNs and http(s) Digital Link URIs only (each of its
    # patterns is anchored so): skipping the rest saves its dozens of regexes per value.
    if not text.startswith(("urn:epc:", "http")):
        return text
    converted = _dl_normaliser(text)
    return converted if converted else text


def _child_text(child: Any, sub_order: Any) -> str:
    grand = _in_order(child[2], sub_order) if sub_order else ""
    text = ""
    if child[1]:
        text = child[1].strip()
        name = child[0].lower()
        text = _timestamp(text) if "time" in name and "offset" not in name else _canonical(text)
        if text:
            text = "=" + text
    if text or grand:
        return str(child[0]) + text + grand
    return ""


def _user_extensions(children: list[Any]) -> list[Any]:
    """Extensions inside a nested element (not the event's own): hashed after it."""
    if len(children) <= 1:
        return []
    for child in children:
        if "eventTime" in child[0] or "action" in child[0]:
            return []
    found = [x for x in children if isinstance(x, tuple) and ("{" in x[0] and "/}" in x[0])]
    for x in found:
        children.remove(x)
    return found


def _in_order(children: list[Any], order: Any) -> str:
    pre = ""
    extensions = _user_extensions(children)
    for name, sub_order in order:
        values = []
        for child in [x for x in children if x[0] == name]:
            text = _child_text(child, sub_order)
            if text:
                values.append(text)
            if len(child[2]) == 0:
                children.remove(child)
        values.sort()
        if "".join(values):
            if pre:
                values.insert(0, pre)
            pre = "".join(values)
    if extensions:
        pre = pre + _generic(extensions)
    return pre


def _generic(children: list[Any]) -> str:
    values = []
    for child in children:
        if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], tuple):
            values.append(_generic(list(child)))
        else:
            text = child[1].strip()
            if text:
                text = "=" + _canonical(text)
            values.append(child[0] + text + _generic(child[2]))
    if len(children) > 1 and not any(c[0] in _UNSORTED for c in children):
        values.sort()
    return "".join(values)


def pre_hash(event: Mapping[str, Any], spaces: Mapping[str, str]) -> str:
    """The canonical pre-hash string of ``event``; ``spaces`` from ``namespaces``."""
    expanded = _vocabulary_values(event)
    bare = _replace_bare(event, expanded) if expanded else event
    tree = _xml_shape(_to_tree(bare, spaces))
    children = list(tree[2])
    ordered = _in_order(children, PROP_ORDER)
    rest = [c for c in children if c[0] not in _IGNORED]
    return "eventType=" + str(tree[0]) + ordered + (_generic(rest) if rest else "")


def hash_id(event: Mapping[str, Any], spaces: Mapping[str, str]) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` of ``event``."""
    digest = hashlib.sha256(pre_hash(event, spaces).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
