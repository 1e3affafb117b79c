"""Field reports as they really come (issue #17), through HTTP on both backends: a
leaked repair without a work order, structured and string parts searchable by serial,
free-text document references beside identifiers, structured damage."""

from __future__ import annotations

from typing import Any

from tests import wire
from tests.api.conftest import Api

ENGINE = {"part": "AGT1500 engine", "serial": "AGT1500-0423", "quantity": 1}


def repair(
    type_: str, asset_ids: list[str], performer: str, reporter: str, **payload: Any
) -> dict[str, Any]:
    common = {k: payload.pop(k) for k in list(payload) if k in ("event_id", "occurred_at")}
    body = {
        "facility_id": "besmaya-depot",
        "performed_by_party": performer,
        "work_type": "battle_damage_repair",
        **payload,
    }
    return wire.event(type_, body, asset_ids=asset_ids, reporter=reporter, **common)


def finding_keys(api: Api, asset: str) -> set[str]:
    api.ledger.runner.catch_up()
    r = api.get(f"/v1/findings?asset={asset}&hindsight=true&cleared=any", role="investigator")
    assert r.status_code == 200, r.text
    return {f["finding_key"] for f in r.json()["findings"]}


# -- a repair reported by someone else: no work order --------------------------------------


def test_a_leaked_repair_without_work_order_is_stored_and_flagged(seeded: Api) -> None:
    """The militia holds t1 (R01, not accounted for); a leaked completion of a repair
    by the militia at the depot, with no work order, is stored and raises R09 (no
    repair authorisation) and R10 (the asset was not accounted for)."""
    seeded.seed([wire.capture(["t1"], "pmf", event_id="cap", occurred_at="2014-06-01T00:00:00Z")])
    leaked = repair(
        "repair_completed",
        ["t1"],
        "pmf",
        "us-gov",
        event_id="leak",
        occurred_at="2015-01-01T00:00:00Z",
        parts=["road wheel"],
    )
    r = seeded.post(leaked)
    assert r.status_code == 201, r.text
    stored = seeded.get("/v1/events/leak").json()
    assert "work_order_id" not in stored["payload"]
    found = finding_keys(seeded, "t1")
    assert {"R09/leak/t1", "R10/leak/t1"} <= found
    seeded.ledger.runner.catch_up()
    assert seeded.get("/v1/assets/t1").json()["operational"] == "OPERATIONAL"


def test_a_leaked_start_of_a_repair_of_an_accounted_asset_raises_only_r09(seeded: Api) -> None:
    r = seeded.post(
        repair("repair_started", ["t2"], "pmf", "us-gov", event_id="seen", occurred_at=wire.T0)
    )
    assert r.status_code == 201, r.text
    found = finding_keys(seeded, "t2")
    assert "R09/seen/t2" in found
    assert "R10/seen/t2" not in found
    seeded.ledger.runner.catch_up()
    state = seeded.get("/v1/assets/t2").json()
    assert (state["operational"], state["open_work_order"]) == ("UNDER_REPAIR", None)


def test_the_performer_reporting_its_own_repair_must_give_the_work_order(seeded: Api) -> None:
    r = seeded.post(repair("repair_started", ["t1"], "us-gov", "us-gov"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "payload.work_order_id"
    assert "reporter is the performer" in r.json()["errors"][0]["message"]


def test_a_completion_without_work_order_closes_the_open_one(seeded: Api) -> None:
    seeded.seed(
        [
            repair(
                "repair_started",
                ["t3"],
                "us-contractor",
                "us-contractor",
                work_order_id="wo-1",
                occurred_at="2014-02-01T00:00:00Z",
            ),
            repair(
                "repair_completed",
                ["t3"],
                "us-contractor",
                "iq-army",
                occurred_at="2014-03-01T00:00:00Z",
            ),
        ]
    )
    seeded.ledger.runner.catch_up()
    state = seeded.get("/v1/assets/t3").json()
    assert (state["operational"], state["open_work_order"]) == ("OPERATIONAL", None)


# -- parts with serials ------------------------------------------------------------------------


def test_string_and_structured_parts_round_trip_and_are_found_by_serial(seeded: Api) -> None:
    done = repair(
        "repair_completed",
        ["t1"],
        "us-contractor",
        "us-contractor",
        event_id="fix-1",
        work_order_id="wo-1",
        occurred_at="2014-05-01T00:00:00Z",
        parts=["road wheel", ENGINE],
    )
    moved = repair(
        "repair_completed",
        ["t2", "t3"],
        "pmf",
        "iq-army",
        event_id="fix-2",
        occurred_at="2015-05-01T00:00:00Z",
        parts=[{"part": "AGT1500 engine", "serial": "AGT1500-0423"}, "track"],
    )
    seeded.seed([done, moved])
    assert seeded.get("/v1/events/fix-1").json()["payload"]["parts"] == [
        "road wheel",
        ENGINE,
    ]
    seeded.ledger.runner.catch_up()
    r = seeded.get("/v1/parts/AGT1500-0423", role="investigator")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assets"] == ["t1", "t2", "t3"]
    assert [(s["asset_id"], s["event_id"]) for s in body["sightings"]] == [
        ("t1", "fix-1"),
        ("t2", "fix-2"),
        ("t3", "fix-2"),
    ]
    assert body["sightings"][0]["quantity"] == 1
    assert body["sightings"][1]["work_order_id"] is None
    # As known before the second report, and as of before the second repair.
    then = seeded.get("/v1/parts/AGT1500-0423?as_of=2015-01-01T00:00:00Z").json()
    assert then["assets"] == ["t1"]
    assert seeded.get("/v1/parts/unknown-serial").json() == {
        "serial": "unknown-serial",
        "assets": [],
        "sightings": [],
    }


def test_a_retracted_or_corrected_repair_moves_the_serial(seeded: Api) -> None:
    seeded.seed(
        [
            repair(
                "repair_completed",
                ["t1"],
                "pmf",
                "iq-army",
                event_id="fix-a",
                parts=[{"part": "engine", "serial": "S/N 7"}],
            ),
            repair(
                "repair_completed",
                ["t2"],
                "pmf",
                "iq-army",
                event_id="fix-b",
                parts=[{"part": "engine", "serial": "S/N 8"}],
            ),
        ]
    )
    seeded.ledger.runner.catch_up()
    assert seeded.get("/v1/parts/S/N 7").json()["assets"] == ["t1"]
    assert seeded.get("/v1/parts/S%2FN%207").json()["assets"] == ["t1"]
    seeded.seed(
        [
            wire.retraction("fix-a", event_id="ret-a"),
            wire.correction(
                "fix-b", {"payload.parts": [{"part": "engine", "serial": "S/N 7"}]}, event_id="c-b"
            ),
        ]
    )
    seeded.ledger.runner.catch_up()
    now = seeded.get("/v1/parts/S/N 7").json()
    assert now["assets"] == ["t2"]
    assert now["sightings"][0]["corrected"] is True
    assert seeded.get("/v1/parts/S/N 8").json()["assets"] == []


def test_parts_are_read_with_a_reader_role(seeded: Api) -> None:
    assert seeded.get("/v1/parts/x", role="investigator").status_code == 200
    assert seeded.get("/v1/parts/x", role="auditor").status_code == 200
    assert seeded.get("/v1/parts/x", role="writer").status_code == 403
    assert seeded.client.get("/v1/parts/x").status_code == 401


def test_a_malformed_part_is_refused(seeded: Api) -> None:
    bad = repair(
        "repair_completed",
        ["t1"],
        "us-contractor",
        "us-contractor",
        work_order_id="wo-9",
        parts=[{"part": "engine", "serial": "x", "quantity": 0}],
    )
    r = seeded.post(bad)
    assert r.status_code == 422
    assert any("payload.parts" in e["field"] for e in r.json()["errors"])


# -- identifiers and document references ---------------------------------------------------


def test_authorization_ref_takes_a_document_reference(seeded: Api) -> None:
    body = repair(
        "repair_started",
        ["t1"],
        "us-contractor",
        "us-contractor",
        work_order_id="wo-2",
        authorization_ref="FMS repair-and-return line",
    )
    r = seeded.post(body)
    assert r.status_code == 201, r.text
    too_long = {**body, "event_id": "other"}
    too_long["payload"] = {**body["payload"], "authorization_ref": "x" * 201}
    assert seeded.post(too_long).status_code == 422


def test_an_identifier_field_says_it_is_one(seeded: Api) -> None:
    body = repair(
        "repair_started", ["t1"], "us-contractor", "us-contractor", work_order_id="WO 2016/17"
    )
    r = seeded.post(body)
    assert r.status_code == 422
    problem = r.json()["errors"][0]
    assert problem["field"] == "payload.work_order_id"
    assert "is an identifier" in problem["message"]


def test_damage_is_text_or_a_structured_assessment(seeded: Api) -> None:
    def disabled(damage: Any) -> dict[str, Any]:
        return wire.event(
            "asset_disabled", {"disabled_by_party": "isil", "damage": damage}, asset_ids=["t1"]
        )

    assert seeded.post(disabled("track blown")).status_code == 201
    structured = {"mobility_kill": True, "fire": False, "severity": "moderate"}
    r = seeded.post(disabled(structured))
    assert r.status_code == 201, r.text
    stored = seeded.get(f"/v1/events/{r.json()['event_id']}").json()
    assert stored["payload"]["damage"] == structured
    assert seeded.post(disabled({})).status_code == 422
    assert seeded.post(disabled({"severity": "apocalyptic"})).status_code == 422
    assert seeded.post(disabled({"mobility": True})).status_code == 422
