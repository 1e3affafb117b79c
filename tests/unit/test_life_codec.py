"""A stored version of a finding is what differs from the version before it; decoding
gives the version back, whatever changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from domain.rules.findings import Finding, FindingKind, Severity
from ledger.projections.findings_codec import decode_version, encode_version

BASE = Finding(
    finding_key="R13/t1/2014-04-01T00:00:00Z",
    rule="R13",
    rule_name="INVENTORY_OVERDUE",
    kind=FindingKind.STATE,
    severity=Severity.LOW,
    asset_id="t1",
    contract_id="C1",
    parties=("army",),
    evidence=("e1", "e2"),
    summary="overdue",
    valid_from=datetime(2014, 4, 1, tzinfo=UTC),
    valid_to=None,
)
ids = st.lists(st.sampled_from([f"e{i}" for i in range(8)]), max_size=10).map(tuple)


def roundtrip(base: Finding | None, f: Finding) -> Finding:
    data = orjson.loads(orjson.dumps(encode_version(base, f), option=orjson.OPT_UTC_Z))
    return decode_version(base, data)


@given(
    old=ids,
    new=ids,
    parties=ids,
    end=st.none() | st.integers(0, 400),
    severity=st.sampled_from(list(Severity)),
)
def test_a_version_decodes_from_the_previous_one(
    old: tuple[str, ...],
    new: tuple[str, ...],
    parties: tuple[str, ...],
    end: int | None,
    severity: Severity,
) -> None:
    before = replace(BASE, evidence=old)
    after = replace(
        BASE,
        evidence=new,
        parties=parties,
        severity=severity,
        valid_to=None if end is None else BASE.valid_from + timedelta(days=end),
        summary=f"overdue {end}",
    )
    assert roundtrip(before, after) == after
    assert roundtrip(None, after) == after


def test_a_grown_list_stores_only_what_was_added() -> None:
    grown = replace(BASE, evidence=(*BASE.evidence, "e3"))
    assert encode_version(BASE, grown) == {"evidence": [2, 0, ["e3"]]}
    assert encode_version(BASE, BASE) == {}
