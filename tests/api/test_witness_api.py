"""A witness following the ledger over HTTP: it cosigns each checkpoint, the ledger
keeps and serves the cosignatures (tlog-witness semantics: 409 with the size held),
and verifiers can require k of n of them — on the note and on an evidence bundle."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

from ledger import cli
from ledger.integrity.checkpoints import Signer
from ledger.integrity.evidence_verify import verify_evidence
from ledger.integrity.notes import Note, NoteVerifier, cosign, count_cosigners, log_verifier
from ledger.integrity.witness import Follower, Witness
from tests import wire
from tests.api.conftest import Api


def transport(api: Api) -> Any:
    headers = api.headers("auditor")

    def call(method: str, path: str, body: bytes | None) -> tuple[int, str]:
        if method == "GET":
            r = api.client.get(path, headers=headers)
        else:
            r = api.client.post(
                path, content=body, headers={**headers, "Content-Type": "text/plain"}
            )
        return r.status_code, r.text

    return call


def ledger_verifier(api: Api) -> NoteVerifier:
    import base64

    key = api.get("/v1/audit/checkpoints", role="auditor").json()["public_key"]
    return log_verifier(base64.b64decode(key))


def checkpoint(api: Api) -> None:
    r = api.client.post("/v1/audit/checkpoints", headers=api.headers("admin"))
    assert r.status_code in (200, 201), r.text


def follower(api: Api, tmp_path: Path, name: str) -> Follower:
    log = ledger_verifier(api)
    w = Witness(
        name, Signer.generate(), {log.name: log}, tmp_path / f"{name.replace('/', '_')}.json"
    )
    return Follower(w, log, transport(api))


def test_witnesses_cosign_and_the_ledger_serves_their_cosignatures(
    seeded: Api, tmp_path: Path
) -> None:
    checkpoint(seeded)
    w1, w2 = follower(seeded, tmp_path, "w1.example/w"), follower(seeded, tmp_path, "w2.example/w")
    assert w1.step().kind == "cosigned"
    seeded.post(wire.capture(["t1"], "isil", event_id="cap1"))
    checkpoint(seeded)
    assert w1.step().kind == "cosigned"
    assert w2.step().kind == "cosigned"
    note = Note.parse(seeded.get("/v1/audit/checkpoint", role="auditor").text)
    witnesses = [w1.witness.verifier, w2.witness.verifier]
    assert len(count_cosigners(note, witnesses)) == 2

    served = tmp_path / "cp.note"
    served.write_text(note.encode())
    key = seeded.get("/v1/audit/checkpoints", role="auditor").json()["public_key"]
    args = ["verify", "--note", str(served), "--public-key", key]
    vkeys = [a for w in witnesses for a in ("--witness", w.vkey())]
    assert cli.main([*args, *vkeys, "--quorum", "2"]) == 0
    third = NoteVerifier("w3.example/w", 0x04, Signer.generate().public_key)
    assert cli.main([*args, *vkeys, "--witness", third.vkey(), "--quorum", "3"]) == 1

    # An evidence bundle carries the cosigned note; k of n is checked offline.
    seeded.ledger.runner.catch_up()
    bundle = seeded.get("/v1/assets/t1/evidence", role="auditor").json()
    assert verify_evidence(bundle, key, witnesses, 2).exit_code == 0
    report = verify_evidence(bundle, key, [*witnesses, third], 3)
    assert (report.verdict, report.exit_code) == ("quorum_not_met", 17)


def test_the_ledger_refuses_cosignatures_as_a_witness_would(seeded: Api, tmp_path: Path) -> None:
    checkpoint(seeded)
    f = follower(seeded, tmp_path, "w1.example/w")
    assert f.step().kind == "cosigned"
    small = f.witness.held(f.log.name)
    assert small is not None
    seeded.post(wire.capture(["t1"], "isil", event_id="cap1"))
    checkpoint(seeded)
    assert f.step().kind == "cosigned"
    vkey = f.witness.verifier.vkey()
    url = "/v1/audit/cosignatures?" + urllib.parse.urlencode({"witness": vkey})
    headers = {**seeded.headers("auditor"), "Content-Type": "text/plain"}

    # The witness cosigning the older, smaller checkpoint again: a rollback, 409 + size.
    old = Note.parse(small.note)
    line = cosign(old.text, f.witness.name, f.witness.signer, int(time.time()))
    r = seeded.client.post(url, content=old.with_signatures([line]).encode(), headers=headers)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("text/x.tlog.size")
    held = f.witness.held(f.log.name)
    assert held is not None and r.text == f"{held.size}\n"

    # A cosignature that does not verify: 403. A note of another log: 404.
    current = Note.parse(seeded.get("/v1/audit/checkpoint", role="auditor").text)
    other = Signer.generate()
    bad = cosign(current.text, f.witness.name, other, int(time.time()))
    r = seeded.client.post(
        url, content=Note(current.text, (*current.signatures[:1], bad)).encode(), headers=headers
    )
    assert r.status_code == 403
    from ledger.integrity.notes import checkpoint_note

    foreign = checkpoint_note(other, 1, b"\0" * 32)
    r = seeded.client.post(url, content=foreign.encode(), headers=headers)
    assert r.status_code == 404
    assert (
        seeded.client.post(
            url, content=current.encode(), headers=seeded.headers("investigator")
        ).status_code
        == 403
    )


def test_witness_cosigning_keeps_up_with_a_checkpoint_a_second(seeded: Api, tmp_path: Path) -> None:
    """Each round: one append, one checkpoint, then the witness fetches the note and a
    consistency proof, checks, cosigns, sends back. The witness's part must take well
    under a second (measured, printed with -s)."""
    f = follower(seeded, tmp_path, "w1.example/w")
    checkpoint(seeded)
    f.step()
    times = []
    for i in range(20):
        seeded.post(wire.capture(["t1"], "isil" if i % 2 else "pmf", event_id=f"c{i}"))
        checkpoint(seeded)
        start = time.perf_counter()
        outcome = f.step()
        times.append(time.perf_counter() - start)
        assert outcome.kind == "cosigned", outcome
    times.sort()
    print(f"witness step: median {times[10] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
    assert times[-1] < 1.0


def test_ledger_witness_command_cosigns_and_alarms_on_a_rollback(
    seeded: Api, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    import json

    import ledger.integrity.witness as witness_module

    monkeypatch.setattr(witness_module, "http_transport", lambda url, key: transport(seeded))
    checkpoint(seeded)
    key = seeded.get("/v1/audit/checkpoints", role="auditor").json()["public_key"]
    state = tmp_path / "w.json"
    args = [
        "witness",
        "--log",
        "http://ledger.invalid",
        "--public-key",
        key,
        "--key",
        str(tmp_path / "w.pem"),
        "--name",
        "w.example/cli",
        "--state",
        str(state),
        "--once",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr()
    assert "cosigned" in out.out and "w.example/cli+" in out.err
    size = json.loads(state.read_text())[ledger_verifier(seeded).name]["size"]
    note = Note.parse(seeded.get("/v1/audit/checkpoint", role="auditor").text)
    assert any(s.name == "w.example/cli" for s in note.signatures)
    # The witness remembers a larger tree than the ledger now shows: a rollback.
    data = json.loads(state.read_text())
    data[ledger_verifier(seeded).name]["size"] = size + 5
    state.write_text(json.dumps(data))
    assert cli.main(args) == 1
    assert "ALARM rollback" in capsys.readouterr().err
