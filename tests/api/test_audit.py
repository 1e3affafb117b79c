"""``/v1/audit``: who may do what, and that what the endpoints hand out is exactly what
the verifier functions accept — and that any change to it is not. Also: the signing
key's file is private and the key itself never leaves the process."""

from __future__ import annotations

import base64
import logging
import os
import stat
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.integrity import merkle
from ledger.integrity.bundle_verify import verify_bundle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from tests import wire
from tests.api.conftest import Api

ROLES = ["writer", "investigator", "auditor", "importer", "admin"]


def h(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


def checkpointed(api: Api) -> tuple[int, int]:
    """Two checkpoints, of the seeded log and of one more event: their sizes."""
    first = api.client.post("/v1/audit/checkpoints", headers=api.headers("admin"))
    assert first.status_code == 201, first.text
    r = api.post(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="late-1"))
    assert r.status_code == 201, r.text
    second = api.client.post("/v1/audit/checkpoints", headers=api.headers("admin"))
    assert second.status_code == 201, second.text
    return first.json()["checkpoint"]["tree_size"], second.json()["checkpoint"]["tree_size"]


def event_id_at(api: Api, position: int) -> str:
    return str(api.ledger.lookups.read_log(position - 1, 1)[0].record["event_id"])


# --- the role matrix ------------------------------------------------------------------


def test_role_matrix(seeded: Api) -> None:
    size1, size2 = checkpointed(seeded)
    reads = [
        "/v1/audit/checkpoints",
        f"/v1/audit/proof/{event_id_at(seeded, 3)}",
        f"/v1/audit/consistency?from={size1}&to={size2}",
        "/v1/audit/export",
    ]
    for path in reads:
        assert seeded.client.get(path).status_code == 401, path
        bad = seeded.client.get(path, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401, path
        for role in ROLES:
            allowed = role in ("auditor", "admin")
            status = seeded.get(path, role=role).status_code
            assert status == (200 if allowed else 403), (path, role, status)
    assert seeded.client.post("/v1/audit/checkpoints").status_code == 401
    for role in ROLES:
        r = seeded.client.post("/v1/audit/checkpoints", headers=seeded.headers(role))
        expected = 200 if role == "admin" else 403  # 200: the log is already covered
        assert r.status_code == expected, (role, r.text)
        if expected == 403:
            assert r.headers["content-type"] == "application/problem+json"


# --- checkpoints ----------------------------------------------------------------------


def test_checkpoints_are_listed_with_the_key_that_signed_them(seeded: Api) -> None:
    assert seeded.get("/v1/audit/checkpoints", role="auditor").json()["checkpoints"] == []
    r = seeded.client.post("/v1/audit/checkpoints", headers=seeded.headers("admin"))
    assert r.status_code == 201 and r.json()["created"] is True
    again = seeded.client.post("/v1/audit/checkpoints", headers=seeded.headers("admin"))
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["checkpoint"] == r.json()["checkpoint"]
    for i in range(3):
        seeded.post(wire.transfer(["t2"], "iq-army", "iq-9th", event_id=f"more-{i}"))
        seeded.client.post("/v1/audit/checkpoints", headers=seeded.headers("admin"))

    body = seeded.get("/v1/audit/checkpoints?limit=3", role="auditor").json()
    assert body["algorithm"] == "Ed25519"
    key = base64.b64decode(body["public_key"])
    assert len(key) == 32 and body["key_id"] == seeded.ledger.integrity.signer.key_id
    sizes = [c["tree_size"] for c in body["checkpoints"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == seeded.log_size()
    rest = seeded.get(f"/v1/audit/checkpoints?limit=3&cursor={body['cursor']}", role="auditor")
    assert [c["tree_size"] for c in rest.json()["checkpoints"]] == [seeded.log_size() - 3]
    assert rest.json()["cursor"] is None
    for item in body["checkpoints"] + rest.json()["checkpoints"]:
        assert verify_checkpoint(Checkpoint.from_dict(item), key)
    bad = seeded.get("/v1/audit/checkpoints?cursor=zz", role="auditor")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


# --- inclusion proofs -----------------------------------------------------------------


def test_inclusion_proofs_verify_and_forged_or_mutated_ones_do_not(seeded: Api) -> None:
    size1, size2 = checkpointed(seeded)
    key = seeded.get("/v1/audit/checkpoints", role="auditor").json()["public_key"]
    event_id = event_id_at(seeded, 5)
    p = seeded.get(f"/v1/audit/proof/{event_id}", role="auditor").json()
    assert p["position"] == 5 and p["tree_size"] == size2  # default: the latest
    cp = Checkpoint.from_dict(p["checkpoint"])
    assert verify_checkpoint(cp, key)
    leaf = merkle.leaf_hash(bytes.fromhex(p["hash"]))
    assert leaf.hex() == p["leaf_hash"]
    proof, root = h(p["proof"]), cp.root_bytes
    assert merkle.verify_inclusion(leaf, 4, size2, proof, root)

    at_first = seeded.get(f"/v1/audit/proof/{event_id}?checkpoint={size1}", role="auditor").json()
    cp1 = Checkpoint.from_dict(at_first["checkpoint"])
    assert merkle.verify_inclusion(leaf, 4, size1, h(at_first["proof"]), cp1.root_bytes)

    other = seeded.get(f"/v1/audit/proof/{event_id_at(seeded, 6)}", role="auditor").json()
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    mutations: dict[str, tuple[bytes, int, int, list[bytes], bytes]] = {
        "another event's hash": (
            merkle.leaf_hash(bytes.fromhex(other["hash"])),
            4,
            size2,
            proof,
            root,
        ),
        "the event hash, not its leaf hash": (bytes.fromhex(p["hash"]), 4, size2, proof, root),
        "another leaf index": (leaf, 5, size2, proof, root),
        "a tree size with another shape": (leaf, 4, 8, proof, root),
        "a flipped bit in the path": (leaf, 4, size2, flipped, root),
        "a path element dropped": (leaf, 4, size2, proof[:-1], root),
        "a path element added": (leaf, 4, size2, [*proof, proof[0]], root),
        "the path reversed": (leaf, 4, size2, proof[::-1], root),
        "another checkpoint's root": (leaf, 4, size2, proof, cp1.root_bytes),
        "another event's proof": (leaf, 4, size2, h(other["proof"]), root),
    }
    for name, args in mutations.items():
        assert not merkle.verify_inclusion(*args), name
    # The path alone may fit a neighbouring size (13 and 14 share leaf 4's path shape);
    # the size is bound to the root by the checkpoint's signature.
    resized = Checkpoint.from_dict({**p["checkpoint"], "tree_size": size1})
    assert not verify_checkpoint(resized, key)
    # A proof forged from a tree of the forger's choosing fails against the signed root.
    fake = [merkle.leaf_hash(bytes([i]) * 32) for i in range(size2)]
    fake[4] = leaf
    forged = merkle.inclusion_proof(4, size2, lambda a, b: fake[a:b])
    assert merkle.verify_inclusion(
        leaf, 4, size2, forged, merkle.root(size2, lambda a, b: fake[a:b])
    )
    assert not merkle.verify_inclusion(leaf, 4, size2, forged, root)


def test_inclusion_proof_problems(seeded: Api) -> None:
    size1, _ = checkpointed(seeded)
    r = seeded.get("/v1/audit/proof/no-such-event", role="auditor")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "event_id"
    r = seeded.get(f"/v1/audit/proof/{event_id_at(seeded, 1)}?checkpoint=999", role="auditor")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "checkpoint"
    r = seeded.get(f"/v1/audit/proof/late-1?checkpoint={size1}", role="auditor")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "checkpoint"
    seeded.post(wire.transfer(["t1"], "iq-9th", "iq-army", event_id="not-yet"))
    r = seeded.get("/v1/audit/proof/not-yet", role="auditor")
    assert r.status_code == 404 and "POST /v1/audit/checkpoints" in r.json()["detail"]


# --- consistency proofs ---------------------------------------------------------------


def test_consistency_proofs_verify_and_forged_or_mutated_ones_do_not(seeded: Api) -> None:
    size1, size2 = checkpointed(seeded)
    c = seeded.get(f"/v1/audit/consistency?from={size1}&to={size2}", role="auditor").json()
    assert (c["from"], c["to"]) == (size1, size2)
    root1 = Checkpoint.from_dict(c["from_checkpoint"]).root_bytes
    root2 = Checkpoint.from_dict(c["to_checkpoint"]).root_bytes
    proof = h(c["proof"])
    assert proof and merkle.verify_consistency(size1, size2, proof, root1, root2)
    flipped = [*proof[:-1], bytes([proof[-1][0] ^ 0x80]) + proof[-1][1:]]
    mutations: dict[str, tuple[int, int, list[bytes], bytes, bytes]] = {
        "roots swapped": (size1, size2, proof, root2, root1),
        "sizes swapped": (size2, size1, proof, root1, root2),
        "another old size": (size1 - 1, size2, proof, root1, root2),
        "a flipped bit": (size1, size2, flipped, root1, root2),
        "a path element dropped": (size1, size2, proof[1:], root1, root2),
        "a path element added": (size1, size2, [*proof, root1], root1, root2),
        "no proof at all": (size1, size2, [], root1, root2),
        "a forged new root": (size1, size2, proof, root1, merkle.leaf_hash(root2)),
    }
    for name, args in mutations.items():
        assert not merkle.verify_consistency(*args), name
    same = seeded.get(f"/v1/audit/consistency?from={size2}&to={size2}", role="auditor").json()
    assert same["proof"] == [] and merkle.verify_consistency(size2, size2, [], root2, root2)

    bad = seeded.get(f"/v1/audit/consistency?from={size2}&to={size1}", role="auditor")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"
    bad = seeded.get(f"/v1/audit/consistency?from=1&to={size2}", role="auditor")
    assert bad.status_code == 404 and bad.json()["errors"][0]["field"] == "from"
    bad = seeded.get(f"/v1/audit/consistency?from={size1}", role="auditor")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"


# --- export ---------------------------------------------------------------------------


def test_export_streams_a_bundle_the_verifier_accepts(seeded: Api) -> None:
    key = seeded.get("/v1/audit/checkpoints", role="auditor").json()["public_key"]
    n = seeded.log_size()
    r = seeded.get("/v1/audit/export", role="auditor")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    # No checkpoint covered the log, so the export made one first, and says so.
    assert r.headers["x-ledger-checkpoint-made"] == str(n)
    lines = r.content.splitlines(keepends=True)
    report = verify_bundle(lines, trusted_public_key=key)
    assert report.verdict == "clean" and report.events == n, report.reason
    tampered = [line.replace(b"SN-t2", b"SN-t9") for line in lines]
    assert verify_bundle(tampered, trusted_public_key=key).verdict == "tampered"

    part = seeded.get(f"/v1/audit/export?after=3&until={n - 2}", role="auditor")
    assert "x-ledger-checkpoint-made" not in part.headers
    header = orjson.loads(part.content.split(b"\n", 1)[0])
    assert (header["after"], header["until"]) == (3, n - 2)
    report = verify_bundle(part.content.splitlines(keepends=True), trusted_public_key=key)
    assert report.verdict == "clean" and report.events == n - 5, report.reason

    for query, field in [
        (f"until={n + 1}", "until"),
        ("after=5&until=4", "after"),
        ("after=-1", "after"),
    ]:
        bad = seeded.get(f"/v1/audit/export?{query}", role="auditor")
        assert bad.status_code == 422, query
        assert bad.json()["errors"][0]["field"] == field, query


# --- the signing key ------------------------------------------------------------------


def test_the_signing_key_file_is_private_and_the_key_never_leaves(
    seeded: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = seeded.ledger.settings.signing_key_file
    # Made by the seeding's first append, which seals its last event with the key.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    bodies: list[bytes] = []

    def call(method: str, url: str, role: str = "admin") -> Any:
        r = seeded.client.request(method, url, headers=seeded.headers(role))
        bodies.append(r.content)
        for name, value in r.headers.items():
            bodies.append(f"{name}: {value}".encode())
        return r

    call("GET", "/v1/audit/checkpoints")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    call("POST", "/v1/audit/checkpoints")
    call("GET", f"/v1/audit/proof/{event_id_at(seeded, 2)}")
    call("POST", "/v1/events")
    call("GET", "/v1/audit/export")
    call("GET", "/v1/audit/consistency?from=1&to=2")
    call("GET", "/openapi.json")
    seeded.ledger.integrity.start_periodic(0.01)
    seeded.ledger.integrity.stop_periodic()

    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    der_b64 = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    secrets = [raw, raw.hex().encode(), base64.b64encode(raw), der_b64, pem]
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert caplog.records, "the checks above log something"
    for secret in secrets:
        for body in bodies:
            assert secret not in body
        assert secret not in logged
    assert repr(seeded.ledger.integrity.signer).count("key_id") == 1
