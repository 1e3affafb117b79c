"""Tampering at the head of the log (issue #16 item 2): someone with write access to the
database appends a forged event with a valid chain, or cuts the tail together with its
checkpoints. Neither may be signed, appended to or passed by ``ledger verify``: each is
reported as tampered (exit 1) with the first bad position.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
import rfc8785
import sqlalchemy as sa

from ledger.bootstrap import Ledger, build_ledger
from ledger.integrity.errors import TamperedLogError
from ledger.integrity.seals import SealChecker, seal_message
from ledger.integrity.signed_state import read_last, state_file
from ledger.integrity.verify_live import verify_database
from ledger.settings import Settings
from tests import wire
from tests.integration.integrity_helpers import append, head, more, populate, row, sql


def forge_append(ledger: Ledger, *, seal: bytes | None = None) -> int:
    """Append a row by direct SQL as a forger would: a copy of the head with a new id,
    linked to the head and hashed correctly — everything but the append path's seal."""
    last = head(ledger)
    state, digest, _, topic = row(ledger, last)
    record = json.loads(state)
    record["event_id"] = f"forged-{uuid.uuid4().hex[:8]}"
    record["prev_hash"] = digest.hex()
    forged = rfc8785.dumps(record)
    sql(
        ledger,
        "INSERT INTO ledger_events (notification_id, originator_id, originator_version,"
        " topic, state, hash, seal) VALUES (:p, :o, 1, :t, :s, :h, :seal)",
        p=last + 1,
        o=uuid.uuid4().hex if ledger.engine.dialect.name == "sqlite" else uuid.uuid4(),
        t=topic,
        s=forged,
        h=hashlib.sha256(forged).digest(),
        seal=seal,
    )
    return last + 1


def cut_tail(ledger: Ledger, after: int) -> None:
    """Delete every event after ``after`` and every checkpoint that covered them."""
    sql(ledger, "DELETE FROM ledger_events WHERE notification_id > :p", p=after)
    sql(ledger, "DELETE FROM integrity_checkpoints WHERE tree_size > :p", p=after)
    sql(ledger, "DELETE FROM integrity_subtrees")
    ledger.integrity.store.subtree_cache._memory.clear()


def stored_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one())


def verify(ledger: Ledger, **kwargs: object) -> tuple[str, int, int | None, str]:
    report = verify_database(
        ledger.engine, signing_key_file=ledger.settings.signing_key_file, **kwargs
    )  # type: ignore[arg-type]
    return report.verdict, report.exit_code, report.first_position, report.reason or ""


# --- the append path seals -----------------------------------------------------------


def test_every_append_seals_its_last_event_and_only_that(ledger: Ledger) -> None:
    start = populate(ledger, 0)  # the reference world and ten assets: two appends
    more(ledger, 7, batch=3)
    checker = SealChecker(ledger.integrity.signer.public_key)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT notification_id, hash, seal FROM ledger_events ORDER BY 1")
        ).all()
    sealed = [int(p) for p, _, s in rows if s is not None]
    world = len(wire.reference_world())
    assert sealed == [world, start, start + 3, start + 6, start + 7]
    for p, h, s in rows:
        if s is not None:
            assert checker.check(int(p), bytes(h), bytes(s))
            assert not checker.check(int(p) + 1, bytes(h), bytes(s))  # bound to its position
    assert seal_message(5, b"\0" * 32).startswith(b"custody-ledger seal v1\n5\n")


# --- a forged append ---------------------------------------------------------------


def test_a_forged_append_is_never_signed_appended_to_or_passed(ledger: Ledger) -> None:
    n = populate(ledger, 20)
    ledger.integrity.checkpoint()
    forged = forge_append(ledger)

    with pytest.raises(TamperedLogError) as caught:
        ledger.integrity.checkpoint()
    assert caught.value.position == forged and "forged" in caught.value.detail

    verdict, code, first, reason = verify(ledger)
    assert (verdict, code, first) == ("tampered", 1, forged), reason
    assert "no valid seal" in reason
    # The auditor's view, with only the public key pinned, says the same.
    pinned = verify_database(ledger.engine, public_key=ledger.integrity.signer.public_key)
    assert (pinned.verdict, pinned.first_position) == ("tampered", forged)

    # An honest append would chain to the forgery and seal it: refused, nothing stored.
    with pytest.raises(TamperedLogError):
        more(ledger, 1)
    assert stored_count(ledger) == n + 1


def test_a_forged_append_is_refused_by_a_fresh_process_too(settings: Settings) -> None:
    first = build_ledger(settings)
    try:
        populate(first, 5)
        forged = forge_append(first)
    finally:
        first.close()
    second = build_ledger(settings)  # no memory of what the first one wrote
    try:
        with pytest.raises(TamperedLogError) as caught:
            more(second, 1)
        assert caught.value.position == forged
    finally:
        second.close()


def test_a_seal_copied_from_another_event_does_not_pass(ledger: Ledger) -> None:
    populate(ledger, 5)
    with ledger.engine.connect() as conn:
        seal = conn.execute(
            sa.text("SELECT seal FROM ledger_events WHERE seal IS NOT NULL LIMIT 1")
        ).scalar_one()
    forged = forge_append(ledger, seal=bytes(seal))
    verdict, _, first, _ = verify(ledger)
    assert (verdict, first) == ("tampered", forged)


def test_a_re_chained_edit_after_the_last_checkpoint_is_named_at_its_append(
    ledger: Ledger,
) -> None:
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(10)])
    ledger.integrity.checkpoint()
    signed = head(ledger)
    more(ledger, 5, batch=5)  # one append: signed+1 .. signed+5, sealed at signed+5
    more(ledger, 5, batch=5)
    from tests.integration.integrity_helpers import rehash_from

    state, *_ = row(ledger, signed + 7)
    rehash_from(ledger, signed + 7, state.replace(b"iq-9th", b"iq-8th", 1))
    verdict, code, first, _ = verify(ledger)
    # The first append is still vouched for by its seal; the second's seal no longer is.
    assert (verdict, code, first) == ("tampered", 1, signed + 6)


# --- a tail cut with its checkpoints -------------------------------------------------


def test_a_tail_cut_with_its_checkpoints_is_caught_by_the_signers_record(
    settings: Settings,
) -> None:
    first = build_ledger(settings)
    try:
        populate(first, 30)
        first.integrity.checkpoint()
        more(first, 10)
        cp, _ = first.integrity.checkpoint()
        assert cp is not None
        recorded = read_last(settings.signing_key_file)
        assert recorded is not None and recorded.tree_size == cp.tree_size == head(first)
        cut = cp.tree_size - 10
        cut_tail(first, cut)

        # The process that wrote the tail refuses to append on a log that went back.
        with pytest.raises(TamperedLogError) as caught:
            more(first, 1)
        assert caught.value.position == cut + 1
    finally:
        first.close()

    second = build_ledger(settings)  # a restarted process: appends resume...
    try:
        more(second, 3)
        # ...but nothing signs the shorter history, and verify names the cut.
        with pytest.raises(TamperedLogError) as caught:
            second.integrity.checkpoint()
        assert "deleted" in caught.value.detail or "missing" in caught.value.detail
        verdict, code, first_bad, reason = verify(second)
        assert (verdict, code) == ("tampered", 1), reason
        # The new events cannot be told from the deleted ones without the old leaves:
        # what is certain is that the signed checkpoint's events are not all there.
        assert first_bad is not None and cut < first_bad <= head(second) + 1
        assert f"checkpoint covers {cp.tree_size} events" in reason
    finally:
        second.close()


def test_a_tail_cut_below_the_signed_size_is_named_at_its_first_missing_event(
    ledger: Ledger,
) -> None:
    populate(ledger, 30)
    cp, _ = ledger.integrity.checkpoint()
    assert cp is not None
    cut_tail(ledger, cp.tree_size - 4)
    verdict, code, first, reason = verify(ledger)
    assert (verdict, code, first) == ("tampered", 1, cp.tree_size - 3), reason
    with pytest.raises(TamperedLogError) as caught:
        ledger.integrity.checkpoint()
    assert caught.value.position == cp.tree_size - 3


def test_after_a_deliberate_restore_moving_the_record_aside_resumes_signing(
    ledger: Ledger, tmp_path: Path
) -> None:
    populate(ledger, 10)
    cp, _ = ledger.integrity.checkpoint()
    assert cp is not None
    more(ledger, 5)
    ledger.integrity.checkpoint()
    cut_tail(ledger, cp.tree_size)  # as a restore of yesterday's backup would
    with pytest.raises(TamperedLogError):
        ledger.integrity.checkpoint()
    record = state_file(ledger.settings.signing_key_file)
    record.rename(tmp_path / "kept.json")
    again, made = ledger.integrity.checkpoint()
    assert again is not None and again.tree_size == cp.tree_size and not made


# --- rows from before seals ----------------------------------------------------------


def test_rows_from_before_seals_are_trusted_through_checkpoints_as_before(
    ledger: Ledger,
) -> None:
    n = populate(ledger, 10)
    # As a database migrated from the revision before seals looks.
    sql(ledger, "UPDATE ledger_events SET seal = NULL")
    sql(ledger, "DELETE FROM ledger_seal_origin")
    sql(ledger, "INSERT INTO ledger_seal_origin (unsealed_through) VALUES (:n)", n=n)
    ledger.store.recorder.guard.unsealed_through = None  # type: ignore[attr-defined]
    fresh = build_ledger(ledger.settings)
    try:
        more(fresh, 2)  # the unsealed head is older than seals: accepted
        cp, made = fresh.integrity.checkpoint()
        assert made and cp is not None and cp.tree_size == n + 2
        assert verify(fresh)[:2] == ("clean", 0)
    finally:
        fresh.close()


# --- over HTTP -----------------------------------------------------------------------


def test_over_http_a_forged_head_is_a_500_integrity_problem_and_nothing_is_stored(
    ledger: Ledger,
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    populate(ledger, 3)
    forged = forge_append(ledger)
    headers = {"Authorization": f"Bearer {ledger.keys.create('admin', 'admin', None)}"}
    with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/events", json=wire.transfer(["t1"], "iq-army", "iq-9th"), headers=headers
        )
        assert r.status_code == 500, r.text
        assert r.json()["type"].endswith("integrity-failure")
        assert f"event {forged}" in r.json()["detail"]
        assert head(ledger) == forged
        r = client.post("/v1/audit/checkpoints", headers=headers)
        assert r.status_code == 500 and "forged" in r.json()["detail"], r.text


def test_a_wrong_pinned_key_is_named_as_such_not_as_forged_rows(ledger: Ledger) -> None:
    from ledger.integrity.checkpoints import Signer

    populate(ledger, 5)
    ledger.integrity.checkpoint()
    stranger = Signer.generate()
    report = verify_database(ledger.engine, public_key=stranger.public_key)
    assert (report.verdict, report.exit_code) == ("tampered", 1)
    assert f"not by the trusted key {stranger.key_id}" in (report.reason or "")
    assert "forged" not in (report.reason or "")


def test_export_of_a_log_with_a_deleted_row_is_a_problem_not_a_crash(ledger: Ledger) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.integrity.errors import IntegrityFailure
    from tests.integration.integrity_helpers import export_lines

    populate(ledger, 30)
    ledger.integrity.checkpoint()
    more(ledger, 5)
    sql(ledger, "DELETE FROM ledger_events WHERE notification_id = 12")
    with pytest.raises(IntegrityFailure):
        export_lines(ledger)
    headers = {"Authorization": f"Bearer {ledger.keys.create('admin', 'admin', None)}"}
    with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
        r = client.get("/v1/audit/export", headers=headers)
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("integrity-failure")
