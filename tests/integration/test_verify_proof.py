"""``ledger verify --proof FILE``: one inclusion or consistency proof, as the API served
it, checked offline against the pinned key; a forged proof or checkpoint is tampered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import cli
from ledger.bootstrap import Ledger
from ledger.integrity.checkpoints import Signer
from ledger.integrity.proof_check import verify_proof_document
from tests.integration.integrity_helpers import more, populate


def _event_id(ledger: Ledger, position: int) -> str:
    from tests.integration.integrity_helpers import row

    return str(json.loads(row(ledger, position)[0])["event_id"])


@pytest.fixture
def proofs(ledger: Ledger) -> tuple[dict[str, Any], dict[str, Any], str]:
    populate(ledger, 30)
    first, _ = ledger.integrity.checkpoint()
    more(ledger, 7)
    second, _ = ledger.integrity.checkpoint()
    assert first is not None and second is not None
    inclusion = ledger.integrity.inclusion(_event_id(ledger, 17), None)
    consistency = ledger.integrity.consistency(first.tree_size, second.tree_size)
    return inclusion, consistency, ledger.integrity.key_info()["public_key"]


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] == "0" else "0") + hex_text[1:]


def test_genuine_proofs_verify_with_the_pinned_key(
    proofs: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    inclusion, consistency, key = proofs
    for doc in (inclusion, consistency):
        report = verify_proof_document(doc, key)
        assert (report.verdict, report.exit_code, report.key_pinned) == ("clean", 0, True)
    unpinned = verify_proof_document(inclusion)
    assert unpinned.verdict == "clean" and not unpinned.key_pinned


@pytest.mark.parametrize(
    "forge",
    [
        lambda d: d["proof"].__setitem__(0, _flip(d["proof"][0])),
        lambda d: d.__setitem__("hash", _flip(d["hash"])),
        lambda d: d["checkpoint"].__setitem__("root", _flip(d["checkpoint"]["root"])),
        lambda d: d.__setitem__("position", d["position"] + 1),
    ],
    ids=["path", "event-hash", "checkpoint-root", "position"],
)
def test_a_forged_inclusion_proof_is_tampered(
    proofs: tuple[dict[str, Any], dict[str, Any], str], forge: Any
) -> None:
    inclusion, _, key = proofs
    doc = json.loads(json.dumps(inclusion))
    forge(doc)
    report = verify_proof_document(doc, key)
    assert (report.verdict, report.exit_code) == ("tampered", 1), report.reason


def test_a_forged_consistency_proof_or_another_key_is_tampered(
    proofs: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    _, consistency, key = proofs
    doc = json.loads(json.dumps(consistency))
    doc["proof"][-1] = _flip(doc["proof"][-1])
    assert verify_proof_document(doc, key).verdict == "tampered"
    # A document re-signed by someone else's key does not pass a pinned key.
    stranger = Signer.generate()
    cp = consistency["to_checkpoint"]
    resigned = stranger.checkpoint(cp["tree_size"], bytes.fromhex(cp["root"]))
    doc = {
        **consistency,
        "to_checkpoint": resigned.to_dict(),
        "public_key": stranger.public_key_b64,
    }
    assert verify_proof_document(doc, key).verdict == "tampered"
    assert verify_proof_document(doc).verdict == "tampered"  # mixed keys even unpinned


def test_the_cli_checks_a_proof_file(
    proofs: tuple[dict[str, Any], dict[str, Any], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inclusion, _, key = proofs
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(inclusion))
    assert cli.main(["verify", "--proof", str(good), "--public-key", key]) == 0
    assert "verdict: clean" in capsys.readouterr().out
    inclusion["proof"][0] = _flip(inclusion["proof"][0])
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(inclusion))
    assert cli.main(["verify", "--proof", str(bad), "--public-key", key]) == 1
    assert "does not lead to the root" in capsys.readouterr().out
    bad.write_text("[]")
    assert cli.main(["verify", "--proof", str(bad)]) == 3
