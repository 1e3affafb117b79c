"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs, held to the worked
examples of the specifications (C2SP/C2SP ``signed-note.md``, ``tlog-checkpoint.md``,
``tlog-cosignature.md``, ``tlog-witness.md``, ``tlog-proof.md``) and to the published
vectors of golang.org/x/mod ``sumdb/note`` (which the Go witnesses use)."""

from __future__ import annotations

import base64
import struct
from typing import Annotated

import pytest

from ledger.integrity.checkpoints import Signer
from ledger.integrity.merkle import Frontier
from ledger.integrity.notes import (
    COSIGNATURE_V1,
    ED25519,
    CheckpointBody,
    Note,
    NoteError,
    NoteSignature,
    NoteVerifier,
    TlogProof,
    checkpoint_note,
    cosign,
    cosignature_message,
    cosignature_time,
    log_verifier,
    note_key_id,
    origin_for,
    sign_note,
    verify_signature,
)

# --- the specifications' worked examples, verbatim ------------------------------------

SPEC_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrM"
    "ouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zh"
    "cyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SPEC_COSIGNATURE_LINE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_COSIGNED_MESSAGE = (
    "cosignature/v1\n"
    "time 1679315147\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

# golang.org/x/mod/sumdb/note: the package documentation's example key and note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# transparency-dev/formats note/note_cosigv1_test.go: a cosignature (type 0x04) key.
COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def _go_signer() -> Signer:
    material = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert material[0] == ED25519
    return Signer.from_key_bytes(material[1:])


def test_the_spec_note_parses_with_its_text_ending_at_the_last_blank_line() -> None:
    note = Note.parse(SPEC_NOTE)
    assert (
        note.text
        == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    )
    (sig,) = note.signatures
    assert sig.name == "quasimodo.example/salvatore"
    assert sig.key_id == bytes.fromhex("367ba04b")
    assert len(sig.signature) == 64  # an Ed25519 signature after the 4-byte key id
    assert note.encode() == SPEC_NOTE


def test_the_spec_checkpoint_parses_into_origin_size_and_root() -> None:
    note = Note.parse(SPEC_CHECKPOINT)
    body = CheckpointBody.parse(note.text)
    assert body.origin == "example.com/behind-the-sofa"
    assert body.tree_size == 20852163
    assert body.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert body.text() == note.text
    (sig,) = note.signatures
    assert sig.name == body.origin and len(sig.signature) == 64
    assert sig.key_id == base64.b64decode("Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe")[:4]
    assert note.encode() == SPEC_CHECKPOINT


def test_the_spec_cosignature_carries_the_timestamp_of_the_spec_signed_message() -> None:
    sig = NoteSignature.parse_line(SPEC_COSIGNATURE_LINE)
    assert sig.name == "witness.example.com/w1"
    assert len(sig.signature) == 8 + 64
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    assert timestamp == 1679315147
    text = Note.parse(SPEC_CHECKPOINT).text
    assert cosignature_message(text, timestamp).decode() == SPEC_COSIGNED_MESSAGE
    assert sig.line() == SPEC_COSIGNATURE_LINE


def test_the_spec_add_checkpoint_body_and_tlog_proof_parse() -> None:
    proof = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "\n" + SPEC_CHECKPOINT
    )
    parsed = TlogProof.parse(proof)
    assert parsed.index == 73894 and len(parsed.path) == 2
    assert parsed.extra == b"age-v1.2.1-darwin-arm64.tar.gz"
    assert parsed.encode() == proof


def test_go_sumdb_note_vector_is_reproduced_byte_for_byte() -> None:
    signer = _go_signer()
    verifier = NoteVerifier.parse(GO_VKEY)
    assert verifier.public_key == signer.public_key
    assert verifier.key_id == bytes.fromhex("c74f20a3")
    assert verifier.vkey() == GO_VKEY
    note = Note(GO_TEXT, (sign_note(GO_TEXT, "PeterNeumann", signer),))
    assert note.encode() == GO_NOTE
    assert verify_signature(Note.parse(GO_NOTE), verifier) is True
    forged = Note.parse(GO_NOTE.replace("cryptography", "cryptographY"))
    assert verify_signature(forged, verifier) is False


def test_cosignature_key_ids_use_type_0x04() -> None:
    verifier = NoteVerifier.parse(COSIG_VKEY)
    assert verifier.sig_type == COSIGNATURE_V1
    assert verifier.key_id == note_key_id("remora.n621.de", COSIGNATURE_V1, verifier.public_key)
    assert note_key_id("remora.n621.de", ED25519, verifier.public_key) != verifier.key_id


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),  # key id not that of the key
        GO_VKEY.replace("PeterNeumann", "Peter Neumann"),
        GO_VKEY[:-4],
        "PeterNeumann",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        NoteVerifier.parse(vkey)


def test_the_ledger_checkpoint_is_a_c2sp_checkpoint_signed_under_its_origin() -> None:
    signer = Signer.generate()
    frontier = Frontier()
    for i in range(5):
        frontier.append_data(bytes([i]) * 32)
    note = checkpoint_note(signer, 5, frontier.root())
    body = CheckpointBody.parse(note.text)
    assert body.origin == origin_for(signer.key_id) == note.signatures[0].name
    assert (body.tree_size, body.root) == (5, frontier.root())
    verifier = log_verifier(signer.public_key)
    assert verify_signature(Note.parse(note.encode()), verifier) is True
    # Deterministic: the same checkpoint always has the same bytes.
    assert checkpoint_note(signer, 5, frontier.root()) == note
    other = log_verifier(Signer.generate().public_key, signer.key_id)
    assert verify_signature(note, other) is None  # another key's line: not by this key


def test_a_cosignature_verifies_only_over_the_checkpoint_it_signed() -> None:
    log, witness = Signer.generate(), Signer.generate()
    note = checkpoint_note(log, 3, b"\x07" * 32)
    w = NoteVerifier("witness.example/w", COSIGNATURE_V1, witness.public_key)
    sig = cosign(note.text, w.name, witness, 1_700_000_000)
    assert sig.key_id == w.key_id
    assert cosignature_time(note.text, sig, w) == 1_700_000_000
    other = checkpoint_note(log, 3, b"\x08" * 32)
    assert cosignature_time(other.text, sig, w) is None
    bumped = NoteSignature(sig.name, sig.key_id, struct.pack(">Q", 1) + sig.signature[8:])
    assert cosignature_time(note.text, bumped, w) is None
    assert verify_signature(note.with_signatures([sig]), w) is True


@pytest.mark.parametrize(
    "text",
    [
        "origin\n20\nAAAA\n\n— origin AAAAAAA=\n",  # root of 3 bytes
        "origin\n020\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n— o AAAAAAA=\n",
        "origin\n20\n" + base64.b64encode(b"\0" * 32).decode() + "\n",  # unsigned
        "origin\x01\n1\n" + base64.b64encode(b"\0" * 32).decode() + "\n\n— o AAAAAAA=\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        CheckpointBody.parse(Note.parse(text).text)


def test_the_verifier_key_pattern_accepts_exactly_the_names_the_parser_accepts() -> None:
    """The query pattern spells out ``str.isspace``: ``\\s`` differs between ECMA-262 (a
    client's JSON Schema validator), Rust's regex (pydantic) and Python's ``re`` — the
    fuzzer sent a name with U+0085, which ECMA's ``\\s`` allows and the server refused."""
    import re
    import sys

    from pydantic import StringConstraints, TypeAdapter, ValidationError

    from ledger.integrity.notes import VERIFIER_KEY_PATTERN, check_key_name

    rest = "+a170fe83+" + "A" * 44
    by_re = re.compile(VERIFIER_KEY_PATTERN)
    by_pydantic = TypeAdapter(Annotated[str, StringConstraints(pattern=VERIFIER_KEY_PATTERN)])
    for code in [*range(0x3100), 0xFEFF, 0x10FFFF, sys.maxunicode]:
        name = f"w{chr(code)}1"
        try:
            check_key_name(name)
            accepted = True
        except NoteError:
            accepted = False
        assert bool(by_re.fullmatch(name + rest)) is accepted, hex(code)
        try:
            by_pydantic.validate_python(name + rest)
            assert accepted, hex(code)
        except ValidationError:
            assert not accepted, hex(code)
