"""The timeline picture as a pure function: bands, lanes and the axis from a timeline's
JSON, without a server or a browser; and its template as well-formed, escaped SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from api.ui.svg import band_label, band_style, timeline_svg
from api.ui.svg_layout import fit, instant, ticks

SVG = "{http://www.w3.org/2000/svg}"


def t(text: str) -> str:
    """A short date → the stored instant form."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def band(custodian: str | None, mark: str, start: str, end: str | None, status: str = "IN_CUSTODY"):
    return {
        "custodian": custodian,
        "status": status,
        "mark": mark,
        "valid_from": t(start),
        "valid_to": t(end) if end else None,
        "opened_by": [f"ev-{start}"],
    }


def event(
    event_id: str,
    type_: str,
    occurred: str,
    reported: str | None = None,
    payload: dict[str, Any] | None = None,
    retracted: bool = False,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": t(occurred),
        "reported_at": t(reported or occurred),
        "payload": payload or {},
        "confidence": "confirmed",
        "retracted": {"event_id": "r", "reported_at": t(occurred), "reason": "x"}
        if retracted
        else None,
        "corrections": [],
    }


def party(party_id: str, kind: str, designations: list[str] | None = None, kinds=None):
    return {
        "party_id": party_id,
        "name": party_id.upper(),
        "kind": kind,
        "designations": designations or [],
        "kinds": kinds or [[t("2010-01-01"), kind, "p"]],
    }


PARTIES = [
    party("iq-9th", "state_unit"),
    party("isil", "armed_group", ["sanctioned"]),
    party("pmf", "paramilitary"),
]


def captured_then_recovered(**extra: Any) -> dict[str, Any]:
    timeline = {
        "asset_id": "T-2",
        "as_of": t("2018-01-01"),
        "known_at": t("2018-01-01"),
        "bands": [
            band("iq-9th", "authorised", "2010-06-01", "2014-06-10"),
            band("isil", "unauthorised", "2014-06-10", "2015-03-01"),
            band("pmf", "unauthorised", "2015-03-01", None),
        ],
        "events": [
            event("deliver", "asset_registered", "2010-06-01"),
            event("capture", "asset_captured", "2014-06-10", "2014-06-20"),
            event("recover", "asset_recovered", "2015-03-01", "2017-02-01"),
        ],
        "observations": [],
        "repairs": [],
        "related_assets": [],
    }
    timeline.update(extra)
    return timeline


def test_bands_are_drawn_in_order_edge_to_edge_with_their_marks() -> None:
    svg = timeline_svg(captured_then_recovered(), PARTIES)
    assert [(b.custodian, b.mark) for b in svg.bands] == [
        ("iq-9th", "authorised"),
        ("isil", "unauthorised"),
        ("pmf", "unauthorised"),
    ]
    for left, right in zip(svg.bands, svg.bands[1:], strict=False):
        assert left.x + left.width == pytest.approx(right.x, abs=0.02)
    assert svg.bands[-1].x + svg.bands[-1].width == pytest.approx(svg.plot_right)
    assert all(svg.plot_left <= b.x for b in svg.bands)


def test_unauthorised_custody_by_an_armed_group_is_set_apart() -> None:
    svg = timeline_svg(captured_then_recovered(), PARTIES)
    assert [b.style for b in svg.bands] == ["authorised", "armed-group", "unauthorised"]
    assert svg.bands[1].label == "isil · armed group, unauthorised"
    assert svg.bands[2].label == "pmf · unauthorised"


def test_a_designation_alone_makes_an_armed_group_band_but_never_overrides_authorised() -> None:
    parties = {"unit": party("unit", "state_unit", ["sanctioned"])}
    assert band_style(band("unit", "unauthorised", "2012-01-01", None), parties) == "armed-group"
    assert band_style(band("unit", "authorised", "2012-01-01", None), parties) == "authorised"
    assert band_style(band("nobody", "unauthorised", "2012-01-01", None), parties) == "unauthorised"


def test_the_party_kind_is_taken_when_the_band_opened() -> None:
    turned = party(
        "militia",
        "paramilitary",
        kinds=[[t("2010-01-01"), "paramilitary", "p1"], [t("2016-01-01"), "armed_group", "p2"]],
    )
    parties = {"militia": turned}
    assert band_style(band("militia", "unauthorised", "2015-01-01", None), parties) == (
        "unauthorised"
    )
    assert band_style(band("militia", "unauthorised", "2016-06-01", None), parties) == (
        "armed-group"
    )


def test_no_custody_and_terminal_bands_say_what_they_are() -> None:
    lost = band(None, "none", "2014-01-01", None, status="LOST")
    destroyed = band(None, "terminal", "2014-01-01", None, status="DESTROYED")
    assert band_label(lost, "none") == "no custody (lost)"
    assert band_label(destroyed, "terminal") == "destroyed"
    svg = timeline_svg(
        captured_then_recovered(
            bands=[band("iq-9th", "authorised", "2010-06-01", "2014-09-15"), destroyed]
        ),
        PARTIES,
    )
    assert [b.style for b in svg.bands] == ["authorised", "terminal"]


def test_labels_fit_their_band_or_shorten() -> None:
    assert fit("iq-9th · authorised", 400) == "iq-9th · authorised"
    assert fit("iq-9th · authorised", 80, "iq-9th") == "iq-9th"
    shortened = fit("a-rather-long-custodian-name · unauthorised", 120)
    assert shortened.endswith("…") and len(shortened) < 20
    assert fit("isil · armed group", 10) == ""


def test_repairs_pair_start_and_completion_by_work_order() -> None:
    repairs = [
        event("r1", "repair_started", "2016-01-10", payload={"work_order_id": "wo-1"}),
        event(
            "r2",
            "repair_completed",
            "2016-09-30",
            payload={"work_order_id": "wo-1", "facility_id": "depot", "work_type": "overhaul"},
        ),
        event("r3", "repair_started", "2017-01-01", payload={"work_order_id": "wo-2"}),
    ]
    svg = timeline_svg(captured_then_recovered(repairs=repairs), PARTIES)
    assert [(r.event_ids, r.open) for r in svg.repairs] == [
        (("r1", "r2"), False),
        (("r3",), True),
    ]
    assert svg.repairs[0].label == "overhaul at depot"
    assert svg.repairs[1].x + svg.repairs[1].width == pytest.approx(svg.plot_right)


def test_a_short_repair_is_labelled_beside_its_bar() -> None:
    repairs = [
        event("r1", "repair_started", "2016-05-01", payload={"work_order_id": "wo-1"}),
        event(
            "r2",
            "repair_completed",
            "2016-05-20",
            payload={
                "work_order_id": "wo-1",
                "facility_id": "besmaya-depot",
                "performed_by_party": "iq-army",
                "work_type": "field_maintenance",
            },
        ),
    ]
    (repair,) = timeline_svg(captured_then_recovered(repairs=repairs), PARTIES).repairs
    assert repair.width < 20
    # Little room after it before as_of (2018): the text goes before the bar.
    assert repair.text_outside and repair.text_anchor == "end" and repair.text_x < repair.x
    assert repair.text == "field maintenance at besmaya-depot by iq-army"


def test_retracted_events_are_marked_and_report_lag_is_drawn() -> None:
    events = [
        event("deliver", "asset_registered", "2010-06-01"),
        event("seen", "observation", "2014-08-01", "2014-08-02", retracted=True),
        event("recover", "asset_recovered", "2015-03-01", "2017-02-01"),
    ]
    svg = timeline_svg(captured_then_recovered(events=events), PARTIES)
    assert [(e.event_id, e.retracted) for e in svg.events] == [
        ("deliver", False),
        ("seen", True),
        ("recover", False),
    ]
    recover = svg.events[2]
    assert recover.lag_x is not None and recover.lag_x > recover.x
    assert svg.events[0].lag_x is None


def test_the_knowledge_time_is_drawn_when_it_is_before_the_valid_time() -> None:
    now = timeline_svg(captured_then_recovered(), PARTIES)
    assert now.known_at_x is None
    then = timeline_svg(captured_then_recovered(known_at=t("2016-06-01")), PARTIES)
    assert then.known_at_x is not None
    assert then.known_at_label == "known at 2016-06-01"


def test_a_distant_as_of_cuts_the_axis_only_when_asked() -> None:
    far = captured_then_recovered(as_of=t("2026-11-26"), known_at=t("2026-11-26"))
    whole = timeline_svg(far, PARTIES)
    assert whole.end == instant(t("2026-11-26")) and whole.cut_label is None
    cut = timeline_svg(far, PARTIES, until_last=True)
    assert cut.end < instant(t("2018-01-01"))
    assert cut.end > instant(t("2017-02-01"))  # the late report stays on the axis
    assert cut.cut_label == "… to 2026-11-26"
    assert cut.bands[-1].x + cut.bands[-1].width == pytest.approx(cut.plot_right)


def test_ticks_are_calendar_years_months_or_days() -> None:
    def at(s: str) -> datetime:
        return instant(t(s))

    years = ticks(at("2010-03-01"), at("2018-01-01"))
    assert [label for _, label in years] == [str(y) for y in range(2011, 2019)]
    months = ticks(at("2014-01-15"), at("2014-07-01"))
    assert [label for _, label in months][:2] == ["2014-02", "Mar"]
    days = ticks(at("2014-06-01"), at("2014-06-05"))
    assert [label for _, label in days] == ["06-01", "06-02", "06-03", "06-04", "06-05"]
    assert len(ticks(at("1900-01-01"), at("2020-01-01"))) <= 10


def test_the_template_draws_well_formed_escaped_svg() -> None:
    from api.ui.pages import templates

    hostile = party("<script>alert(1)</script>", "armed_group")
    timeline = captured_then_recovered()
    timeline["bands"][1]["custodian"] = hostile["party_id"]
    svg = timeline_svg(timeline, [*PARTIES, hostile])
    markup = templates.env.get_template("_timeline_svg.html").render(
        svg=svg, t=timeline, asset_id="T-2&<x>"
    )
    assert "<script>" not in markup
    root = ET.fromstring(markup)
    groups = [g for g in root.iter(f"{SVG}g") if "band" in g.get("class", "").split()]
    assert [(g.get("data-custodian"), g.get("data-mark"), g.get("data-style")) for g in groups] == [
        ("iq-9th", "authorised", "authorised"),
        ("<script>alert(1)</script>", "unauthorised", "armed-group"),
        ("pmf", "unauthorised", "unauthorised"),
    ]
    title = root.find(f"{SVG}title")
    assert title is not None and "T-2&<x>" in (title.text or "")


# -- findings on the timeline ----------------------------------------------------------------


def finding(
    key: str,
    kind: str,
    start: str,
    end: str | None = None,
    severity: str = "high",
    cleared: str | None = None,
) -> dict[str, Any]:
    rule = key.split("/", 1)[0]
    return {
        "finding_key": key,
        "rule": rule,
        "rule_name": "UNAUTHORISED_CUSTODY" if rule == "R01" else "LATE_RECORDING",
        "kind": kind,
        "severity": severity,
        "summary": f"summary of {key}",
        "parties": [],
        "valid_from": t(start),
        "valid_to": t(end) if end else None,
        "detected_at": t(start),
        "cleared_at": t(cleared) if cleared else None,
        "clear_reason": "resolved" if cleared else None,
    }


STORY_FINDINGS = [
    finding("R01/T-2/isil/2014-06-10", "state", "2014-06-10", "2015-03-01", "critical"),
    finding("R01/T-2/pmf/2015-03-01", "state", "2015-03-01"),
    finding("R03/T-2/2014-06-10", "state", "2014-07-10"),
    finding("R04/capture/T-2", "event", "2014-06-10", severity="medium"),
    finding("R05/recover/T-2", "event", "2015-03-01", severity="low"),
    finding("R09/recover/T-2", "event", "2015-03-01"),
    finding("R06/recover/T-2", "discrepancy", "2015-03-01", cleared="2016-01-01"),
]


def test_findings_have_a_lane_with_a_row_for_whatever_would_overlap() -> None:
    svg = timeline_svg(captured_then_recovered(findings=STORY_FINDINGS), PARTIES)
    by_key = {f.finding_key: f for f in svg.findings}
    assert set(by_key) == {f["finding_key"] for f in STORY_FINDINGS}
    isil, pmf = by_key["R01/T-2/isil/2014-06-10"], by_key["R01/T-2/pmf/2015-03-01"]
    # One custodian's finding ends where the next begins: end to end in one row.
    assert isil.row == pmf.row
    assert isil.x + isil.width == pytest.approx(pmf.x, abs=0.02)
    assert isil.closes and not pmf.closes  # pmf's is still open: it runs to the end
    assert pmf.x + pmf.width == pytest.approx(svg.plot_right)
    # R03 overlaps both, so it gets a row of its own.
    assert by_key["R03/T-2/2014-06-10"].row not in (isil.row,)
    # Events at one instant sit side by side, in rule order, in one row.
    same = [by_key[k] for k in ("R05/recover/T-2", "R06/recover/T-2", "R09/recover/T-2")]
    assert len({f.row for f in same}) == 1
    assert [f.x for f in same] == sorted(f.x for f in same)
    assert same[0].x == pytest.approx(pmf.x, abs=0.02)
    # No two marks in a row overlap.
    for a in svg.findings:
        for b in svg.findings:
            if a is not b and a.row == b.row and a.x < b.x:
                assert a.x + a.width <= b.x + 0.02, (a.finding_key, b.finding_key)
    findings_lane = svg.lanes[-1]
    assert findings_lane.name == "findings"
    rows = 1 + max(f.row for f in svg.findings)
    assert all(
        findings_lane.y <= f.y and f.y + f.height <= findings_lane.y + findings_lane.height
        for f in svg.findings
    )
    assert rows >= 2 and svg.axis_y > findings_lane.y + findings_lane.height
    # Told apart without colour: severity as grave or not, kind by shape, cleared.
    assert isil.grave and not by_key["R05/recover/T-2"].grave
    assert by_key["R06/recover/T-2"].cleared and not by_key["R09/recover/T-2"].cleared
    assert isil.text.startswith("R01") and by_key["R04/capture/T-2"].text == "R04"


def test_findings_outside_the_axis_are_left_out_of_the_picture() -> None:
    late = finding("R13/T-2/2019-01-01", "state", "2019-01-01")
    svg = timeline_svg(captured_then_recovered(findings=[*STORY_FINDINGS, late]), PARTIES)
    assert "R13/T-2/2019-01-01" not in {f.finding_key for f in svg.findings}
    empty = timeline_svg(captured_then_recovered(), PARTIES)
    assert empty.findings == () and empty.lanes[-1].height > 0


def test_finding_marks_are_escaped_links_to_the_finding_page() -> None:
    from api.ui.pages import templates

    hostile = finding('R01/T-2/<script>alert("x")</script>/2014-06-10', "state", "2014-06-10")
    hostile["summary"] = "<img src=x onerror=alert(1)>"
    timeline = captured_then_recovered(findings=[hostile, STORY_FINDINGS[3]])
    markup = templates.env.get_template("_timeline_svg.html").render(
        svg=timeline_svg(timeline, PARTIES),
        t=timeline,
        asset_id="T-2",
        finding_query="?known_at=2016-06-01T00%3A00%3A00Z",
    )
    assert "<script>" not in markup and "<img" not in markup
    root = ET.fromstring(markup)
    marks = [a for a in root.iter(f"{SVG}a") if "finding-mark" in a.get("class", "")]
    assert [a.get("data-finding") for a in marks] == [
        hostile["finding_key"],
        "R04/capture/T-2",
    ]
    assert marks[0].get("href") == (
        "/ui/findings/R01/T-2/%3Cscript%3Ealert%28%22x%22%29%3C/script%3E/2014-06-10"
        "?known_at=2016-06-01T00%3A00%3A00Z"
    )
    title = marks[0].find(f"{SVG}title")
    assert title is not None and "<img src=x onerror=alert(1)>" in (title.text or "")
    # An open state finding has its opening bracket and an arrow, no closing bracket.
    assert marks[0].find(f"{SVG}path[@class='finding-open']") is not None
    assert marks[0].find(f"{SVG}path[@class='finding-ongoing']") is not None
    assert marks[0].find(f"{SVG}path[@class='finding-close']") is None


def x_of(svg: Any, when: str) -> float:
    """Where an instant falls on the picture's axis."""
    f = (instant(t(when)) - svg.start) / (svg.end - svg.start)
    return float(svg.plot_left + f * (svg.plot_right - svg.plot_left))


def test_a_state_finding_cleared_while_open_ends_where_it_was_cleared() -> None:
    from api.ui.pages import templates

    # Open (no valid_to) when its trigger was retracted: no longer "still open" today.
    voided = finding("R01/T-2/isil/2014-06-10", "state", "2014-06-10", cleared="2016-01-01")
    voided["clear_reason"] = "voided_trigger_retracted"
    later = finding("R03/T-2/2016-02-01", "state", "2016-02-01")
    timeline = captured_then_recovered(findings=[voided, later])
    svg = timeline_svg(timeline, PARTIES)
    shape = next(f for f in svg.findings if f.finding_key == voided["finding_key"])
    assert shape.voided and shape.cleared and not shape.closes
    assert shape.x + shape.width == pytest.approx(x_of(svg, "2016-01-01"), abs=0.05)
    assert shape.x + shape.width < svg.plot_right - 100
    assert "cleared 2016-01-01 (voided trigger retracted)" in shape.label
    # What begins after the clearing shares its row.
    assert {f.row for f in svg.findings} == {0}
    markup = templates.env.get_template("_timeline_svg.html").render(
        svg=svg, t=timeline, asset_id="T-2"
    )
    mark = next(
        a
        for a in ET.fromstring(markup).iter(f"{SVG}a")
        if a.get("data-finding") == voided["finding_key"]
    )
    assert mark.find(f"{SVG}path[@class='finding-void']") is not None
    assert mark.find(f"{SVG}path[@class='finding-ongoing']") is None
    # Known before the retraction, the same finding was open: it runs on.
    still = dict(voided, cleared_at=None, clear_reason=None)
    open_then = timeline_svg(captured_then_recovered(findings=[still]), PARTIES).findings[0]
    assert not open_then.voided
    assert open_then.x + open_then.width == pytest.approx(svg.plot_right)


def test_a_short_finding_bar_is_labelled_beside_it_and_keeps_room_for_the_label() -> None:
    from api.ui.pages import templates

    short = finding("R12/T-2/wo-1", "state", "2012-01-01", "2012-01-08")  # a week in 8 years
    neighbour = finding("R13/T-2/2012-01-09", "state", "2012-01-09", "2013-01-01")
    at_the_end = finding("R03/T-2/2017-12-20", "state", "2017-12-20", "2017-12-28")
    timeline = captured_then_recovered(findings=[short, neighbour, at_the_end])
    svg = timeline_svg(timeline, PARTIES)
    by_key = {f.finding_key: f for f in svg.findings}
    bar = by_key[short["finding_key"]]
    assert bar.width < 10
    # Its rule code beside it, after the bar.
    assert bar.text == "R12" and bar.text_outside and bar.text_anchor == "start"
    assert bar.text_x >= bar.x + bar.width
    # The next bar would cover the label: it goes to another row.
    assert by_key[neighbour["finding_key"]].row != bar.row
    # Near the end of the axis the label goes before the bar.
    last = by_key[at_the_end["finding_key"]]
    assert last.text == "R03" and last.text_outside and last.text_anchor == "end"
    assert last.text_x <= last.x
    # A bar long enough keeps its text inside.
    inside = by_key[neighbour["finding_key"]]
    assert not inside.text_outside and inside.text.startswith("R13")
    markup = templates.env.get_template("_timeline_svg.html").render(
        svg=svg, t=timeline, asset_id="T-2"
    )
    texts = {
        a.get("data-finding"): a.find(f"{SVG}text")
        for a in ET.fromstring(markup).iter(f"{SVG}a")
        if a.get("data-finding")
    }
    label = texts[short["finding_key"]]
    assert label is not None and label.text == "R12"
    assert "outside" in (label.get("class") or "")
    assert float(label.get("x") or 0) >= bar.x + bar.width


def test_a_page_refusing_its_query_drops_pydantics_value_error_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.exceptions import RequestValidationError

    from api.ui import pages

    seen: list[object] = []
    monkeypatch.setattr(
        pages,
        "error_page",
        lambda _r, status, detail, problems: seen.append((status, detail, problems)),
    )
    exc = RequestValidationError(
        [{"loc": ("query", "as_of"), "msg": "Value error, not an instant", "type": "value_error"}]
    )
    pages._unreadable_page(None, exc)  # type: ignore[arg-type]
    assert seen == [
        (422, "as_of: not an instant", [{"field": "as_of", "message": "not an instant"}])
    ]
