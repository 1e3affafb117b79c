"""Checkpoint signing: the key file, the signed message, and what a signature binds."""

from __future__ import annotations

import base64
import hashlib
import os
import pickle
import stat
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    KeyFileError,
    Signer,
    checkpoint_message,
    format_timestamp,
    key_id_for,
    verify_checkpoint,
)

ROOT = hashlib.sha256(b"a root").digest()
WHEN = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture(scope="module")
def checkpoint(signer: Signer) -> Checkpoint:
    return signer.checkpoint(42, ROOT, WHEN)


# --- the key file -------------------------------------------------------------------


def test_key_file_is_created_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "checkpoint.pem"
    first = Signer.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = Signer.from_file(path)
    assert again.key_id == first.key_id and again.public_key == first.public_key
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pem"], "no temp files left"


def test_key_file_is_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Signer.from_file(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_an_existing_key_is_loaded_never_replaced(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "given.pem"
    path.write_bytes(pem)
    loaded = Signer.from_file(path)
    raw_public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert loaded.public_key == raw_public
    assert path.read_bytes() == pem


def test_a_raw_32_byte_key_file_is_accepted(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "raw.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )
    assert Signer.from_file(path).public_key == key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def test_missing_key_without_create_and_garbage_keys_are_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        Signer.from_file(tmp_path / "absent.pem", create=False)
    assert not (tmp_path / "absent.pem").exists()
    secret = b"not a key but secret-ish 0123456789"
    (tmp_path / "bad.pem").write_bytes(secret)
    with pytest.raises(KeyFileError) as raised:
        Signer.from_file(tmp_path / "bad.pem")
    assert secret.decode() not in str(raised.value)
    (tmp_path / "rsa.pem").write_bytes(
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(KeyFileError):
        Signer.from_file(tmp_path / "rsa.pem")


def test_concurrent_first_use_ends_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race.pem"
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        ids.append(Signer.from_file(path).key_id)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == 8
    assert Signer.from_file(path).key_id == ids[0]
    assert [p.name for p in tmp_path.iterdir()] == ["race.pem"]


def test_the_private_key_is_not_exposed(signer: Signer, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    on_disk = Signer.from_file(path)
    assert repr(on_disk) == f"Signer(key_id={on_disk.key_id!r})"
    assert "PRIVATE" not in str(on_disk)
    assert not any("private" in name for name in dir(on_disk) if not name.startswith("_"))
    with pytest.raises(TypeError):
        pickle.dumps(on_disk)


def test_key_id_is_the_first_16_hex_of_sha256_of_the_raw_public_key(signer: Signer) -> None:
    assert signer.key_id == hashlib.sha256(signer.public_key).hexdigest()[:16]
    assert key_id_for(signer.public_key) == signer.key_id
    assert len(signer.public_key) == 32
    assert base64.b64decode(signer.public_key_b64) == signer.public_key


# --- the signed message -------------------------------------------------------------


def test_signed_message_is_the_documented_byte_string(checkpoint: Checkpoint) -> None:
    assert checkpoint.message() == (
        b"custody-ledger checkpoint v1\n42\n"
        + ROOT.hex().encode()
        + b"\n2024-05-01T12:00:00.123456Z\n"
        + checkpoint.key_id.encode()
        + b"\n"
    )
    assert checkpoint.timestamp == "2024-05-01T12:00:00.123456Z"


def test_timestamps_are_normalised_to_utc_with_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)) == (
        "2024-05-01T12:00:00.000000Z"
    )
    with pytest.raises(CheckpointFormatError):
        format_timestamp(datetime(2024, 5, 1, 14, 0))


@pytest.mark.parametrize(
    ("tree_size", "root_hex", "timestamp", "key_id"),
    [
        (-1, ROOT.hex(), "2024-05-01T12:00:00.000000Z", "0" * 16),
        (True, ROOT.hex(), "2024-05-01T12:00:00.000000Z", "0" * 16),
        (1, ROOT.hex().upper(), "2024-05-01T12:00:00.000000Z", "0" * 16),
        (1, ROOT.hex(), "2024-05-01T12:00:00Z", "0" * 16),
        (1, ROOT.hex(), "2024-02-30T12:00:00.000000Z", "0" * 16),
        (1, ROOT.hex(), "2024-05-01T12:00:00.000000Z\n", "0" * 16),
        (1, ROOT.hex(), "2024-05-01T12:00:00.000000Z", "0" * 15),
    ],
)
def test_message_fields_have_exactly_one_spelling(
    tree_size: Any, root_hex: str, timestamp: str, key_id: str
) -> None:
    with pytest.raises(CheckpointFormatError):
        checkpoint_message(tree_size, root_hex, timestamp, key_id)


# --- what a signature binds ---------------------------------------------------------


def test_signature_verifies_with_raw_and_base64_key(signer: Signer, checkpoint: Checkpoint) -> None:
    assert verify_checkpoint(checkpoint, signer.public_key)
    assert verify_checkpoint(checkpoint, signer.public_key_b64)
    assert verify_checkpoint(checkpoint, signer.public_key_b64.encode())


def test_signature_fails_for_another_key(checkpoint: Checkpoint) -> None:
    other = Signer.generate()
    assert not verify_checkpoint(checkpoint, other.public_key)
    # Even when the checkpoint is relabelled with the other key's id.
    assert not verify_checkpoint(replace(checkpoint, key_id=other.key_id), other.public_key)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 43},
        {"tree_size": 0},
        {"root": hashlib.sha256(b"another root").hexdigest()},
        {"timestamp": "2024-05-01T12:00:00.123457Z"},
        {"key_id": "0123456789abcdef"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_signature_fails_for_any_changed_field(
    signer: Signer, checkpoint: Checkpoint, change: dict[str, Any]
) -> None:
    assert not verify_checkpoint(replace(checkpoint, **change), signer.public_key)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, 63), bit=st.integers(0, 7))
def test_signature_fails_for_any_flipped_signature_bit(
    signer: Signer, checkpoint: Checkpoint, position: int, bit: int
) -> None:
    raw = bytearray(base64.b64decode(checkpoint.signature))
    raw[position] ^= 1 << bit
    forged = replace(checkpoint, signature=base64.b64encode(bytes(raw)).decode())
    assert not verify_checkpoint(forged, signer.public_key)


def test_malformed_keys_and_signatures_fail_instead_of_raising(
    signer: Signer, checkpoint: Checkpoint
) -> None:
    assert not verify_checkpoint(checkpoint, b"short")
    assert not verify_checkpoint(checkpoint, "not base64!")
    assert not verify_checkpoint(replace(checkpoint, signature="AAAA"), signer.public_key)
    assert not verify_checkpoint(replace(checkpoint, root="zz"), signer.public_key)


def test_checkpoint_round_trips_through_a_dict(checkpoint: Checkpoint) -> None:
    data = checkpoint.to_dict()
    assert set(data) == {"tree_size", "root", "timestamp", "key_id", "signature"}
    assert Checkpoint.from_dict(data) == checkpoint


def _non_canonical(signature: str) -> str:
    # 64 bytes are 86 base64 characters plus "==": the last character carries 2 bits,
    # the other 4 are ignored by lenient decoders.
    last = signature[85]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = alphabet[alphabet.index(last) ^ 1]
    return signature[:85] + sibling + signature[86:]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: {**d, "extra": 1},
        lambda d: {k: v for k, v in d.items() if k != "timestamp"},
        lambda d: {**d, "tree_size": "42"},
        lambda d: {**d, "tree_size": 42.0},
        lambda d: {**d, "root": d["root"].upper()},
        lambda d: {**d, "signature": d["signature"].rstrip("=")},
        lambda d: {**d, "signature": _non_canonical(d["signature"])},
        lambda d: {**d, "signature": 5},
        lambda d: [d],
    ],
)
def test_from_dict_refuses_every_other_spelling(checkpoint: Checkpoint, mangle: Any) -> None:
    with pytest.raises(CheckpointFormatError):
        Checkpoint.from_dict(mangle(checkpoint.to_dict()))


def test_non_canonical_base64_decodes_to_the_same_bytes_so_it_must_be_refused(
    checkpoint: Checkpoint,
) -> None:
    odd = _non_canonical(checkpoint.signature)
    assert base64.b64decode(odd) == base64.b64decode(checkpoint.signature)


def test_sign_refuses_a_root_that_is_not_32_bytes(signer: Signer) -> None:
    with pytest.raises(CheckpointFormatError):
        signer.checkpoint(1, b"short")


def test_default_timestamp_is_now(signer: Signer) -> None:
    before = datetime.now(UTC)
    made = signer.checkpoint(1, ROOT)
    stamp = datetime.strptime(made.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)
    assert verify_checkpoint(made, signer.public_key)
