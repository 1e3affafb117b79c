"""Evidence bundles for an answer (docs/decisions/0012): built over HTTP for every asset
of the worked example at several (as_of, known_at), equal to what the API answers,
verified offline — and each tampering caught with its own exit code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain.history import Event
from domain.instants import parse
from domain.rules.lives import Window
from ledger import cli
from ledger.cli.demo import demo_events, load_demo
from ledger.integrity.checkpoints import Signer
from ledger.integrity.evidence_format import NoAnswer, contract_answer, finding_answer
from ledger.integrity.evidence_verify import EXIT, verify_evidence
from ledger.integrity.notes import (
    CheckpointBody,
    Note,
    checkpoint_note,
    log_verifier,
    verify_signature,
)
from tests.api.conftest import Api

ASSETS = sorted(e["asset_ids"][0] for e in demo_events() if e["type"] == "asset_registered")
VIEWS = [
    (None, None),
    ("2012-01-01T00:00:00Z", "2012-01-01T00:00:00Z"),
    ("2014-09-01T00:00:00Z", "2014-08-01T00:00:00Z"),
    ("2014-09-01T00:00:00Z", "2016-06-01T00:00:00Z"),
    ("2015-06-01T00:00:00Z", None),
    ("2017-12-31T00:00:00Z", "2018-01-01T00:00:00Z"),
]


@pytest.fixture
def demo(api: Api) -> Api:
    load_demo(api.ledger)
    return api


def evidence(api: Api, asset_id: str, as_of: str | None, known_at: str | None) -> Any:
    params = {k: v for k, v in (("as_of", as_of), ("known_at", known_at)) if v}
    return api.get(f"/v1/assets/{asset_id}/evidence", role="auditor", params=params)


def public_key(api: Api) -> str:
    return str(api.get("/v1/audit/checkpoints", role="auditor").json()["public_key"])


def test_evidence_verifies_and_matches_the_api_for_every_asset_and_view(demo: Api) -> None:
    key = public_key(demo)
    checked = 0
    for asset_id in ASSETS:
        for as_of, known_at in VIEWS:
            r = evidence(demo, asset_id, as_of, known_at)
            assert r.status_code == 200, r.text
            bundle = r.json()
            report = verify_evidence(bundle, key)
            assert report.exit_code == 0, (asset_id, as_of, known_at, report.reason)
            assert report.key_pinned and report.events == len(bundle["events"])
            # The bundled answer is the API's answer at the same (as_of, known_at).
            q = bundle["query"]
            api_answer = demo.get(
                f"/v1/assets/{asset_id}",
                role="investigator",
                params={"as_of": q["as_of"], "known_at": q["known_at"]},
            ).json()
            api_answer.pop("findings")
            assert bundle["answer"] == api_answer
            own = [e for e in bundle["events"] if asset_id in e["state"]]
            assert own, "the asset's own events are in its bundle"
            checked += 1
    assert checked == len(ASSETS) * len(VIEWS)


def test_the_answer_follows_knowledge_time(demo: Api) -> None:
    """M1A1-002, captured by isil in 2014, was recovered by a militia in March 2015 —
    reported only in February 2017: in 2016 the ledger knew it with isil, later with
    the militia; both answers verify."""
    early = evidence(demo, "M1A1-002", "2016-01-01T00:00:00Z", "2016-06-01T00:00:00Z").json()
    late = evidence(demo, "M1A1-002", "2016-01-01T00:00:00Z", "2017-06-01T00:00:00Z").json()
    assert (early["answer"]["custodian"], late["answer"]["custodian"]) == ("isil", "pmf-kh")
    key = public_key(demo)
    assert verify_evidence(early, key).exit_code == verify_evidence(late, key).exit_code == 0


def test_evidence_before_delivery_is_404_like_the_answer(demo: Api) -> None:
    r = evidence(demo, "M1A1-001", "2009-01-01T00:00:00Z", None)
    assert r.status_code == 404
    assert demo.get("/v1/assets/nope/evidence", role="auditor").status_code == 404


def test_evidence_is_for_auditors(demo: Api) -> None:
    r = demo.get("/v1/assets/M1A1-001/evidence", role="investigator")
    assert r.status_code == 403


# --- tampering ----------------------------------------------------------------------


@pytest.fixture
def bundles(demo: Api) -> tuple[dict[str, Any], dict[str, Any], str]:
    one = evidence(demo, "M1A1-002", "2016-01-01T00:00:00Z", None).json()
    other = evidence(demo, "M1A1-001", "2016-01-01T00:00:00Z", one["query"]["known_at"]).json()
    assert one["checkpoint"] == other["checkpoint"]
    return one, other, public_key(demo)


def _own(bundle: dict[str, Any], asset_id: str) -> list[int]:
    return [
        i for i, e in enumerate(bundle["events"]) if asset_id in json.loads(e["state"])["asset_ids"]
    ]


def test_an_edited_event_is_caught(bundles: Any) -> None:
    one, _, key = bundles
    bad = copy.deepcopy(one)
    i = _own(bad, "M1A1-002")[-1]
    bad["events"][i]["state"] = bad["events"][i]["state"].replace("confirmed", "possible", 1)
    assert bad["events"][i]["state"] != one["events"][i]["state"]
    report = verify_evidence(bad, key)
    assert (report.verdict, report.exit_code) == ("event_edited", EXIT["event_edited"])
    assert report.position == one["events"][i]["position"]


def test_an_edited_event_with_its_hash_recomputed_fails_its_proof(bundles: Any) -> None:
    import hashlib

    one, _, key = bundles
    bad = copy.deepcopy(one)
    i = _own(bad, "M1A1-002")[-1]
    state = bad["events"][i]["state"].replace("confirmed", "possible", 1)
    bad["events"][i]["state"] = state
    bad["events"][i]["hash"] = hashlib.sha256(state.encode()).hexdigest()
    assert verify_evidence(bad, key).verdict == "proof_failed"


def test_a_removed_event_is_caught_by_the_subject_statement(bundles: Any) -> None:
    one, _, key = bundles
    for i in _own(one, "M1A1-002"):
        bad = copy.deepcopy(one)
        del bad["events"][i]
        report = verify_evidence(bad, key)
        assert (report.verdict, report.exit_code) == ("event_removed", 12), report.reason
        assert "missing" in report.reason


def test_a_removed_reference_event_is_caught(bundles: Any) -> None:
    one, _, key = bundles
    bad = copy.deepcopy(one)
    i = next(i for i, e in enumerate(bad["events"]) if '"authorization_granted"' in e["state"])
    del bad["events"][i]
    assert verify_evidence(bad, key).exit_code == 12


def test_an_added_event_is_caught_even_with_a_valid_proof(bundles: Any) -> None:
    one, other, key = bundles
    bad = copy.deepcopy(one)
    foreign = other["events"][_own(other, "M1A1-001")[-1]]
    bad["events"].append(foreign)
    report = verify_evidence(bad, key)
    assert (report.verdict, report.exit_code) == ("event_added", 13), report.reason
    twice = copy.deepcopy(one)
    twice["events"].append(twice["events"][0])
    assert verify_evidence(twice, key).exit_code == 13


def test_a_changed_proof_hash_is_caught(bundles: Any) -> None:
    one, _, key = bundles
    bad = copy.deepcopy(one)
    i = _own(bad, "M1A1-002")[0]
    lines = bad["events"][i]["proof"].split("\n")
    # Line 2 is the sibling nearest the leaf: flip one of its base64 characters.
    lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]
    bad["events"][i]["proof"] = "\n".join(lines)
    report = verify_evidence(bad, key)
    assert (report.verdict, report.exit_code) == ("proof_failed", 14), report.reason


def test_a_checkpoint_resigned_by_another_key_is_caught(bundles: Any) -> None:
    one, _, key = bundles
    forger = Signer.generate()
    body = CheckpointBody.parse(Note.parse(one["checkpoint"]["note"]).text)
    bad = copy.deepcopy(one)
    bad["checkpoint"]["note"] = checkpoint_note(forger, body.tree_size, body.root).encode()
    bad["log"]["public_key"] = forger.public_key_b64
    report = verify_evidence(bad, key)
    assert (report.verdict, report.exit_code) == ("bad_signature", 10), report.reason
    # Without the pinned key the forger's own key is used, and the report says so.
    assert verify_evidence(bad).key_pinned is False


def test_an_edited_answer_is_caught_and_named(bundles: Any) -> None:
    one, _, key = bundles
    bad = copy.deepcopy(one)
    bad["answer"]["accounted_for"] = not bad["answer"]["accounted_for"]
    report = verify_evidence(bad, key)
    assert (report.verdict, report.exit_code) == ("answer_differs", 15)
    assert any(d.startswith("accounted_for") for d in report.differences)


def test_a_checkpoint_before_known_at_does_not_cover_it(bundles: Any) -> None:
    one, _, key = bundles
    bad = copy.deepcopy(one)
    bad["query"]["known_at"] = "2099-01-01T00:00:00.000000Z"
    assert verify_evidence(bad, key).exit_code == 16


def test_not_a_bundle_is_an_error() -> None:
    assert verify_evidence({"format": "nope"}).exit_code == 3
    assert verify_evidence([]).exit_code == 3


def test_cli_verify_evidence_exit_codes(
    bundles: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, _, key = bundles
    good = tmp_path / "good.json"
    good.write_text(json.dumps(one))
    assert cli.main(["verify", "--evidence", str(good), "--public-key", key]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    bad = copy.deepcopy(one)
    del bad["events"][_own(bad, "M1A1-002")[0]]
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(bad))
    assert cli.main(["verify", "--evidence", str(bad_file), "--public-key", key]) == 12
    assert "event_removed" in capsys.readouterr().out


# --- the checkpoint as a C2SP note ---------------------------------------------------


def test_checkpoint_note_is_the_json_checkpoint_as_a_signed_note(
    demo: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = demo.client.post("/v1/audit/checkpoints", headers=demo.headers("admin")).json()
    r = demo.get("/v1/audit/checkpoint", role="auditor")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    note = Note.parse(r.text)
    body = CheckpointBody.parse(note.text)
    cp = made["checkpoint"]
    assert (body.tree_size, body.root.hex()) == (cp["tree_size"], cp["root"])
    key = made["public_key"]
    import base64

    verifier = log_verifier(base64.b64decode(key))
    assert body.origin == verifier.name == f"custody-ledger/{made['key_id']}"
    assert verify_signature(note, verifier) is True
    assert demo.get(f"/v1/audit/checkpoint?size={cp['tree_size']}", role="auditor").text == r.text
    assert demo.get("/v1/audit/checkpoint?size=999999", role="auditor").status_code == 404
    assert demo.get("/v1/audit/checkpoint", role="investigator").status_code == 403
    # `ledger verify --note`, and the note as the trusted checkpoint of a bundle.
    note_file = tmp_path / "cp.note"
    note_file.write_text(r.text)
    assert cli.main(["verify", "--note", str(note_file), "--public-key", key]) == 0
    other = Signer.generate().public_key_b64
    assert cli.main(["verify", "--note", str(note_file), "--public-key", other]) == 1
    bundle = tmp_path / "b.ndjson"
    bundle.write_bytes(demo.get("/v1/audit/export", role="auditor").content)
    capsys.readouterr()
    code = cli.main(
        ["verify", str(bundle), "--checkpoint", str(note_file), "--public-key", key, "--quiet"]
    )
    assert code == 0, capsys.readouterr().out


# --- findings ------------------------------------------------------------------------


def finding_evidence(api: Api, key: str, known_at: str | None) -> Any:
    params = {"known_at": known_at} if known_at else {}
    return api.get(f"/v1/evidence/findings/{key}", role="auditor", params=params)


def test_finding_evidence_verifies_and_matches_the_api_for_every_asset_finding(
    demo: Api,
) -> None:
    demo.ledger.runner.catch_up()
    key = public_key(demo)
    found = demo.get("/v1/findings", params={"cleared": "any", "limit": 1000}).json()["findings"]
    of_assets = [f for f in found if f["asset_id"] is not None]
    assert len(of_assets) >= 5
    checked = 0
    for f in of_assets:
        for known_at in (f["detected_at"], f["cleared_at"], None):
            r = finding_evidence(demo, f["finding_key"], known_at)
            assert r.status_code == 200, (f["finding_key"], known_at, r.text)
            bundle = r.json()
            report = verify_evidence(bundle, key)
            assert report.exit_code == 0, (f["finding_key"], known_at, report.reason)
            api_view = demo.get(
                f"/v1/findings/{f['finding_key']}",
                params={"known_at": bundle["query"]["known_at"]},
            ).json()
            assert bundle["answer"] == api_view, f["finding_key"]
            checked += 1
    assert checked >= 3 * len(of_assets) - len([f for f in of_assets if not f["cleared_at"]])


def test_finding_evidence_tampering_is_caught(demo: Api) -> None:
    demo.ledger.runner.catch_up()
    key = public_key(demo)
    found = demo.get("/v1/findings", params={"cleared": "any"}).json()["findings"]
    f = next(f for f in found if f["asset_id"] is not None and f["evidence"])
    bundle = finding_evidence(demo, f["finding_key"], None).json()
    assert verify_evidence(bundle, key).exit_code == 0
    edited = copy.deepcopy(bundle)
    edited["answer"]["severity"] = "low" if edited["answer"]["severity"] != "low" else "high"
    assert verify_evidence(edited, key).exit_code == 15
    # Every event of the asset's subject is needed: dropping any one is caught.
    own = _own(bundle, f["asset_id"])
    assert own
    dropped = copy.deepcopy(bundle)
    del dropped["events"][own[0]]
    assert verify_evidence(dropped, key).exit_code == 12
    lying = copy.deepcopy(bundle)
    lying["query"]["contract_id"] = "another-contract"
    assert verify_evidence(lying, key).exit_code in (12, 15)


def test_contract_level_findings_have_evidence_bundles(demo: Api) -> None:
    """C01–C03 depend on every asset of the contract: their bundle carries the contract's
    events, every registration and each member asset's events, and verifies."""
    demo.ledger.runner.catch_up()
    demo.post("/v1/audit/checkpoints", role="admin")
    key = public_key(demo)
    found = demo.get("/v1/findings", params={"cleared": "any"}).json()["findings"]
    contract_level = [f for f in found if f["asset_id"] is None]
    assert {f["rule"] for f in contract_level} >= {"C01"}
    for f in contract_level:
        bundle = finding_evidence(demo, f["finding_key"], None).json()
        assert bundle["query"]["contract_id"] == f["contract_id"]
        report = verify_evidence(bundle, key)
        assert report.exit_code == 0, (f["finding_key"], report.reason)
        api_view = demo.get(
            f"/v1/findings/{f['finding_key']}", params={"known_at": bundle["query"]["known_at"]}
        ).json()
        assert bundle["answer"] == api_view
    bundle = finding_evidence(demo, contract_level[0]["finding_key"], None).json()
    member = next(i for i, e in enumerate(bundle["events"]) if _of_an_asset(e))
    del bundle["events"][member]
    assert verify_evidence(bundle, key).exit_code == 12
    assert finding_evidence(demo, "R01/nope/x/2014-01-01T00:00:00Z", None).status_code == 404


def _of_an_asset(e: dict[str, Any]) -> bool:
    """An event of an asset, not its registration (and not an amendment)."""
    state = json.loads(e["state"])
    return bool(state.get("asset_ids")) and state["type"] != "asset_registered"


# --- the contract report --------------------------------------------------------------

CONTRACT = "fms-iq-m1"
REPORT_VIEWS = [
    ({}, None),
    ({"as_of": "2015-06-01T00:00:00Z", "known_at": "2016-06-01T00:00:00Z"}, None),
    ({"as_of": "2014-09-01T00:00:00Z", "known_at": "2014-08-01T00:00:00Z"}, None),
    ({"from": "2014-01-01T00:00:00Z", "to": "2019-01-01T00:00:00Z"}, None),
]


def contract_evidence(api: Api, params: dict[str, str]) -> Any:
    return api.get(f"/v1/contracts/{CONTRACT}/evidence", role="auditor", params=params)


@pytest.fixture
def contract_bundle(demo: Api) -> tuple[dict[str, Any], str]:
    demo.ledger.runner.catch_up()
    demo.post("/v1/audit/checkpoints", role="admin")
    r = contract_evidence(demo, {"as_of": "2015-06-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    return r.json(), public_key(demo)


def test_contract_report_evidence_verifies_and_is_the_reports_answer(demo: Api) -> None:
    demo.ledger.runner.catch_up()
    demo.post("/v1/audit/checkpoints", role="admin")
    key = public_key(demo)
    members = {
        e["asset_ids"][0]
        for e in demo_events()
        if e["type"] == "asset_registered" and e["payload"]["contract_id"] == CONTRACT
    }
    for params, _ in REPORT_VIEWS:
        r = contract_evidence(demo, params)
        assert r.status_code == 200, (params, r.text)
        bundle = r.json()
        report = verify_evidence(bundle, key)
        assert report.exit_code == 0, (params, report.reason)
        assert report.kind == "contract" and report.contract_id == CONTRACT
        q = bundle["query"]
        api = demo.get(
            f"/v1/contracts/{CONTRACT}/report",
            role="auditor",
            params={k: v for k, v in q.items() if k in ("as_of", "known_at", "from", "to") and v},
        ).json()
        # The same report; its reproducibility block names the checkpoint's last event.
        repro = bundle["answer"].pop("reproducibility")
        api.pop("reproducibility")
        # The API pages long lists; this report fits one page, and the bundle is whole.
        assert api.pop("page")["next_cursor"] is None
        assert bundle["answer"] == api, params
        assert repro["log_head_position"] == bundle["head"]["position"]
        assert repro["log_head_hash"] == bundle["head"]["hash"]
        statements = {s["subject"] for s in bundle["subjects"]}
        assert {f"asset:{a}" for a in members} <= statements
        assert "registrations" in statements


def test_contract_report_evidence_tampering_is_caught(
    contract_bundle: tuple[dict[str, Any], str],
) -> None:
    bundle, key = contract_bundle
    assert verify_evidence(bundle, key).exit_code == 0

    def kind(e: dict[str, Any]) -> str:
        return str(json.loads(e["state"])["type"])

    # A registration left out: the registrations statement counts it.
    no_registration = copy.deepcopy(bundle)
    i = next(i for i, e in enumerate(bundle["events"]) if kind(e) == "asset_registered")
    del no_registration["events"][i]
    assert verify_evidence(no_registration, key).exit_code == 12
    # A member asset's statement and its events left out: the registration names it.
    asset = json.loads(bundle["events"][i]["state"])["asset_ids"][0]
    hidden = copy.deepcopy(bundle)
    hidden["subjects"] = [s for s in hidden["subjects"] if s["subject"] != f"asset:{asset}"]
    hidden["events"] = [
        e
        for e in hidden["events"]
        if asset not in json.loads(e["state"]).get("asset_ids", []) or kind(e) == "asset_registered"
    ]
    found = verify_evidence(hidden, key)
    assert found.exit_code == 12 and f"asset:{asset}" in found.reason
    # One event of an asset dropped.
    dropped = copy.deepcopy(bundle)
    del dropped["events"][next(i for i, e in enumerate(bundle["events"]) if _of_an_asset(e))]
    assert verify_evidence(dropped, key).exit_code == 12
    # The head's hash changed: its proof fails.
    head = copy.deepcopy(bundle)
    head["head"]["hash"] = "00" * 32
    assert verify_evidence(head, key).exit_code == 14
    # The answer edited.
    edited = copy.deepcopy(bundle)
    edited["answer"]["assets"]["total"] += 1
    assert verify_evidence(edited, key).exit_code == 15


def test_contract_report_evidence_of_an_unknown_contract_is_404(demo: Api) -> None:
    r = demo.get("/v1/contracts/nope/evidence", role="auditor")
    assert r.status_code == 404
    assert demo.get(f"/v1/contracts/{CONTRACT}/evidence", role="investigator").status_code == 403


def test_cli_verifies_a_contract_bundle(
    contract_bundle: tuple[dict[str, Any], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle, key = contract_bundle
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(bundle))
    assert cli.main(["verify", "--evidence", str(path), "--public-key", key]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and f"report of contract {CONTRACT}" in out


def test_a_contract_bundle_naming_an_asset_is_refused(
    contract_bundle: tuple[dict[str, Any], str],
) -> None:
    """A contract's answer is checked over the contract's subjects: a query that also
    names an asset would have been checked over that asset's alone."""
    bundle, key = contract_bundle
    forged = copy.deepcopy(bundle)
    forged["query"]["asset_id"] = "M1A1-001"
    assert verify_evidence(forged, key).exit_code == 3


def test_a_contract_report_forged_from_one_assets_finding_bundle_fails(demo: Api) -> None:
    """Reviewer's forgery: an asset finding's bundle (one asset's events), given a real
    contract bundle's head and a contract query naming the asset, with the report
    recomputed over those events — four assets shrink to one."""
    demo.ledger.runner.catch_up()
    demo.post("/v1/audit/checkpoints", role="admin")
    key = public_key(demo)
    real = contract_evidence(demo, {}).json()
    found = demo.get("/v1/findings", params={"cleared": "any"}).json()["findings"]
    f = next(f for f in found if f["asset_id"] is not None and f["contract_id"] == CONTRACT)
    forged = finding_evidence(demo, f["finding_key"], None).json()
    assert forged["checkpoint"] == real["checkpoint"]
    forged["head"] = real["head"]
    forged["query"] = {**real["query"], "asset_id": f["asset_id"]}
    q = forged["query"]
    events = [Event.parse(int(e["position"]), orjson.loads(e["state"])) for e in forged["events"]]
    head = (real["head"]["position"], real["head"]["hash"])
    forged["answer"] = contract_answer(
        events, CONTRACT, parse(q["as_of"]), parse(q["known_at"]), head, Window()
    )
    assert forged["answer"]["assets"]["total"] < real["answer"]["assets"]["total"]
    assert verify_evidence(forged, key).exit_code != 0
    del forged["query"]["asset_id"]  # as a contract query proper: the other assets are missing
    assert verify_evidence(forged, key).exit_code == 12


def test_a_contract_finding_framed_as_an_assets_finding_fails(demo: Api) -> None:
    """C01 recomputed over one asset's finding bundle (its subjects lack the others)."""
    demo.ledger.runner.catch_up()
    demo.post("/v1/audit/checkpoints", role="admin")
    key = public_key(demo)
    found = demo.get("/v1/findings", params={"cleared": "any"}).json()["findings"]
    c01 = next(f for f in found if f["asset_id"] is None)
    tried = 0
    for f in [f for f in found if f["asset_id"] is not None]:
        bundle = finding_evidence(demo, f["finding_key"], None).json()
        events = [
            Event.parse(int(e["position"]), orjson.loads(e["state"])) for e in bundle["events"]
        ]
        hashes = {int(e["position"]): bytes.fromhex(e["hash"]) for e in bundle["events"]}
        try:
            answer = finding_answer(
                events, hashes, c01["finding_key"], parse(bundle["query"]["known_at"])
            )
        except NoAnswer:
            continue
        bundle["query"]["finding_key"], bundle["answer"] = c01["finding_key"], answer
        report = verify_evidence(bundle, key)
        assert report.exit_code == 15, (f["finding_key"], report.reason)
        tried += 1
    assert tried


def test_contract_evidence_on_an_empty_ledger_is_404(api: Api) -> None:
    assert api.get("/v1/contracts/nope/evidence", role="auditor").status_code == 404
