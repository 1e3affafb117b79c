"""RFC 6962 Merkle trees: the transparency-dev vectors, a naive reference, pymerkle, fuzzing."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import BaseMerkleTree, InmemoryTree

from ledger.integrity.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemorySubtreeCache,
    MerkleError,
    consistency_proof,
    frontier_at,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The shared folder sits beside the repository (also in CI's clean clone).
VECTORS = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[3] / "shared" / "testdata" / "rfc6962",
            Path("/work/shared/testdata/rfc6962"),
        )
        if p.is_dir()
    ),
    Path("shared/testdata/rfc6962"),
)
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))
assert VECTOR_FILES, f"RFC 6962 test vectors not found at {VECTORS}"


def _event_hashes(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(salt + i.to_bytes(8, "big")).digest() for i in range(n)]


LEAVES = [leaf_hash(h) for h in _event_hashes(1100)]


def get_range(start: int, end: int) -> list[bytes]:
    return LEAVES[start:end]


# --- a naive reference, straight from RFC 9162 §2.1 ---------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _k(n)
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


# --- the transparency-dev test vectors ----------------------------------------------


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


@pytest.mark.parametrize(
    "path", VECTOR_FILES, ids=[str(p.relative_to(VECTORS)) for p in VECTOR_FILES]
)
def test_verifier_verdict_matches_rfc6962_vector(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    if "leafIdx" in case:
        ok = verify_inclusion(
            _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"])
        )
    else:
        ok = verify_consistency(
            case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
        )
    assert ok is (not case["wantErr"]), case["desc"]


def test_vectors_are_all_there() -> None:
    assert len(VECTOR_FILES) == 196
    assert {p.relative_to(VECTORS).parts[0] for p in VECTOR_FILES} == {"inclusion", "consistency"}


# --- roots, frontier, proofs against the reference ----------------------------------


@pytest.mark.parametrize("batch", [1, 2, 8, 4096])
def test_roots_for_sizes_0_to_64_equal_the_reference(batch: int) -> None:
    for size in range(65):
        assert root(size, get_range, leaf_batch=batch) == ref_mth(LEAVES[:size]), size


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root(0, get_range) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert Frontier().root() == EMPTY_ROOT


def test_frontier_root_equals_recomputation_at_every_size() -> None:
    frontier = Frontier()
    for size in range(1, 1025):
        frontier.append(LEAVES[size - 1])
        assert frontier.size == size
        assert len(frontier.nodes) == size.bit_count()
        assert frontier.root() == root(size, get_range), size


def test_frontier_append_data_hashes_the_leaf() -> None:
    hashes = _event_hashes(5)
    frontier = Frontier()
    for h in hashes:
        frontier.append_data(h)
    assert frontier.root() == ref_mth([leaf_hash(h) for h in hashes])


def test_frontier_round_trips_through_json_and_keeps_growing() -> None:
    frontier = Frontier()
    frontier.extend(LEAVES[:77])
    restored = Frontier.from_dict(json.loads(json.dumps(frontier.to_dict())))
    assert restored.size == 77 and restored.root() == frontier.root()
    restored.extend(LEAVES[77:300])
    assert restored.root() == root(300, get_range)
    assert frontier.size == 77, "restoring must not share state with the original"


def test_frontier_at_equals_an_appended_frontier() -> None:
    for size in (0, 1, 2, 3, 64, 65, 1000):
        frontier = Frontier()
        frontier.extend(LEAVES[:size])
        assert frontier_at(size, get_range, leaf_batch=4).nodes == frontier.nodes


@pytest.mark.parametrize(
    "data",
    [
        {"size": 3, "nodes": [EMPTY_ROOT.hex()]},  # 3 needs two nodes
        {"size": 1, "nodes": [EMPTY_ROOT.hex().upper()]},
        {"size": 1, "nodes": ["00" * 31]},
        {"size": -1, "nodes": []},
        {"size": True, "nodes": [EMPTY_ROOT.hex()]},
        {"size": 0, "nodes": [], "extra": 1},
        {"size": 0},
        [],
    ],
)
def test_frontier_from_dict_refuses_malformed_input(data: Any) -> None:
    with pytest.raises(MerkleError):
        Frontier.from_dict(data)


def test_frontier_refuses_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(MerkleError):
        Frontier().append(b"short")


def test_all_inclusion_proofs_up_to_40_leaves_are_the_rfc_paths_and_verify() -> None:
    for size in range(1, 41):
        tree_root = ref_mth(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(index, size, get_range, leaf_batch=2)
            assert proof == ref_path(index, LEAVES[:size]), (index, size)
            assert verify_inclusion(LEAVES[index], index, size, proof, tree_root)


def test_all_consistency_proofs_up_to_40_leaves_are_the_rfc_proofs_and_verify() -> None:
    for size2 in range(1, 41):
        root2 = ref_mth(LEAVES[:size2])
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, get_range, leaf_batch=2)
            assert proof == ref_subproof(size1, LEAVES[:size2], True), (size1, size2)
            assert verify_consistency(size1, size2, proof, ref_mth(LEAVES[:size1]), root2)


def test_proof_generation_refuses_what_does_not_exist() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 3), (6, 5)]:
        with pytest.raises(MerkleError):
            inclusion_proof(index, size, get_range)
    for size1, size2 in [(0, 5), (6, 5), (-1, 2)]:
        with pytest.raises(MerkleError):
            consistency_proof(size1, size2, get_range)


def test_a_leaf_source_returning_the_wrong_count_is_an_error() -> None:
    with pytest.raises(MerkleError):
        root(10, lambda start, end: LEAVES[start : end - 1])


def test_proofs_need_only_log_n_subtree_roots_and_a_cache_makes_them_lookups() -> None:
    calls: list[tuple[int, int]] = []

    def counting(start: int, end: int) -> list[bytes]:
        calls.append((start, end))
        return LEAVES[start:end]

    size = 1000
    # Without a cache every sibling subtree is hashed from its leaves (batch 1: one fetch
    # per leaf): still one pass over the tree, never more.
    inclusion_proof(321, size, counting, leaf_batch=1)
    assert len(calls) <= size

    cache = MemorySubtreeCache(min_width=8)
    expected = inclusion_proof(321, size, get_range)
    assert inclusion_proof(321, size, counting, subtree_cache=cache, leaf_batch=8) == expected
    calls.clear()
    for index in (0, 321, 999):
        assert inclusion_proof(index, size, counting, subtree_cache=cache, leaf_batch=8) == (
            inclusion_proof(index, size, get_range)
        )
    for size1 in (1, 17, 512, 999):
        assert consistency_proof(size1, size, counting, subtree_cache=cache, leaf_batch=8) == (
            consistency_proof(size1, size, get_range)
        )
    # Warm: at most one fetch (of < 8 leaves) per proof element.
    assert all(end - start <= 8 for start, end in calls)
    assert len(calls) <= 7 * 2 * (size.bit_length() + 1)


# --- forged proofs are refused ------------------------------------------------------


@st.composite
def inclusion_cases(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 300))
    return draw(st.integers(0, size - 1)), size


def _mutate_path(draw: Callable[[st.SearchStrategy[Any]], Any], proof: list[bytes]) -> list[bytes]:
    """One of: flip a bit, drop, insert, duplicate or swap elements. Never a no-op."""
    ops = ["insert"]
    if proof:
        ops += ["flip", "drop", "duplicate"]
    if len(set(proof)) > 1:
        ops.append("swap")
    op = draw(st.sampled_from(ops))
    out = list(proof)
    if op == "flip":
        i = draw(st.integers(0, len(out) - 1))
        bit = draw(st.integers(0, 255))
        element = bytearray(out[i])
        element[bit // 8] ^= 1 << (bit % 8)
        out[i] = bytes(element)
    elif op == "drop":
        del out[draw(st.integers(0, len(out) - 1))]
    elif op == "insert":
        out.insert(draw(st.integers(0, len(out))), draw(st.binary(min_size=32, max_size=32)))
    elif op == "duplicate":
        i = draw(st.integers(0, len(out) - 1))
        out.insert(draw(st.integers(0, len(out))), out[i])
    else:
        i, j = draw(
            st.tuples(st.integers(0, len(out) - 1), st.integers(0, len(out) - 1)).filter(
                lambda ij: proof[ij[0]] != proof[ij[1]]
            )
        )
        out[i], out[j] = out[j], out[i]
    assert out != proof
    return out


@settings(max_examples=600, deadline=None)
@given(case=inclusion_cases(), data=st.data())
def test_any_mutation_of_a_valid_inclusion_proof_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    tree_root = root(size, get_range)
    proof = inclusion_proof(index, size, get_range)
    assert verify_inclusion(LEAVES[index], index, size, proof, tree_root)

    what = data.draw(st.sampled_from(["path", "index", "size", "root", "leaf"]))
    if what == "path":
        forged = _mutate_path(data.draw, proof)
        assert not verify_inclusion(LEAVES[index], index, size, forged, tree_root)
    elif what == "index":
        other = data.draw(st.integers(0, 400).filter(lambda i: i != index))
        assert not verify_inclusion(LEAVES[index], other, size, proof, tree_root)
    elif what == "size":
        # The tree a proof is checked against is (size, root) from a signed checkpoint, so
        # moving to another size means another real tree: the proof must not carry over
        # unless it happens to be that tree's proof too.
        other = data.draw(st.integers(1, 400).filter(lambda s: s != size))
        other_root = root(other, get_range)
        expected = index < other and inclusion_proof(index, other, get_range) == proof
        assert verify_inclusion(LEAVES[index], index, other, proof, other_root) is expected
    elif what == "root":
        other = data.draw(st.integers(0, 400).filter(lambda s: s != size))
        assert not verify_inclusion(LEAVES[index], index, size, proof, root(other, get_range))
    else:
        other = data.draw(st.integers(0, 399).filter(lambda i: i != index))
        assert not verify_inclusion(LEAVES[other], index, size, proof, tree_root)


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(2, 300))
    return draw(st.integers(1, size2 - 1)), size2


@settings(max_examples=600, deadline=None)
@given(case=consistency_cases(), data=st.data())
def test_any_mutation_of_a_valid_consistency_proof_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    root1, root2 = root(size1, get_range), root(size2, get_range)
    proof = consistency_proof(size1, size2, get_range)
    assert verify_consistency(size1, size2, proof, root1, root2)

    what = data.draw(st.sampled_from(["path", "sizes", "swap-roots", "root1", "root2"]))
    if what == "path":
        assert not verify_consistency(size1, size2, _mutate_path(data.draw, proof), root1, root2)
    elif what == "sizes":
        new1 = data.draw(st.integers(0, 400))
        new2 = data.draw(st.integers(0, 400))
        if (new1, new2) == (size1, size2):
            new2 += 1
        # As for inclusion: other sizes are other real trees, with their own roots (see
        # test_inclusion_proofs_alone_do_not_bind_the_tree_size).
        r1, r2 = root(new1, get_range), root(new2, get_range)
        expected = 0 < new1 <= new2 and consistency_proof(new1, new2, get_range) == proof
        assert verify_consistency(new1, new2, proof, r1, r2) is expected
    elif what == "swap-roots":
        assert not verify_consistency(size1, size2, proof, root2, root1)
    elif what == "root1":
        other = data.draw(st.integers(0, 400).filter(lambda s: s != size1))
        assert not verify_consistency(size1, size2, proof, root(other, get_range), root2)
    else:
        other = data.draw(st.integers(0, 400).filter(lambda s: s != size2))
        assert not verify_consistency(size1, size2, proof, root1, root(other, get_range))


def test_inclusion_proofs_alone_do_not_bind_the_tree_size() -> None:
    # Documented RFC 6962 behaviour, not a bug: index 0 has the same left/right path
    # shape in trees of 5 and 6 leaves, so the size-5 proof also "verifies" against the
    # size-5 root under size 6. A verifier must take (size, root) together from a signed
    # checkpoint, which is what the bundle verifier does.
    proof = inclusion_proof(0, 5, get_range)
    assert verify_inclusion(LEAVES[0], 0, 6, proof, root(5, get_range))
    assert not verify_inclusion(LEAVES[0], 0, 6, proof, root(6, get_range))


def test_verifiers_refuse_wrong_types_instead_of_raising() -> None:
    good = inclusion_proof(2, 5, get_range)
    r5 = root(5, get_range)
    assert not verify_inclusion(LEAVES[2], True, 5, good, r5)
    assert not verify_inclusion(LEAVES[2], 2, 5, [*good[:-1], "x" * 32], r5)  # type: ignore[list-item]
    assert not verify_inclusion(LEAVES[2].hex(), 2, 5, good, r5)  # type: ignore[arg-type]
    assert not verify_inclusion(LEAVES[2], 2, 5, None, r5)  # type: ignore[arg-type]
    assert not verify_inclusion(LEAVES[2], 2, 5, b"".join(good), r5)  # type: ignore[arg-type]
    assert not verify_consistency(2, 5, None, r5, r5)  # type: ignore[arg-type]
    assert not verify_consistency(2, 5, ["a"], r5, r5)  # type: ignore[list-item]
    assert not verify_consistency(-1, 5, [], r5, r5)
    assert not verify_consistency(0, 0, [], b"x", b"x")
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)


# --- pymerkle as an independent implementation --------------------------------------


def test_roots_and_inclusion_proofs_agree_with_pymerkle() -> None:
    data = _event_hashes(130, b"pymerkle")
    leaves = [leaf_hash(d) for d in data]
    tree = InmemoryTree.init_from_entries(data, algorithm="sha256")

    def source(start: int, end: int) -> list[bytes]:
        return leaves[start:end]

    for size in range(0, 131):
        assert tree.get_root(size) == root(size, source), size
    for size in range(1, 131, 7):
        for index in range(size):
            theirs = tree.prove_inclusion(index + 1, size)
            # pymerkle's path starts with the leaf itself, then the RFC 6962 audit path.
            assert theirs.path[0] == leaves[index]
            assert theirs.path[1:] == inclusion_proof(index, size, source)


def test_consistency_proofs_verify_against_pymerkle_roots() -> None:
    # pymerkle's consistency proofs have their own layout (not RFC 9162's), so they are
    # compared through the roots both sides must agree on, and each side's own verifier.
    data = _event_hashes(70, b"pymerkle")
    leaves = [leaf_hash(d) for d in data]
    tree = InmemoryTree.init_from_entries(data, algorithm="sha256")

    def source(start: int, end: int) -> list[bytes]:
        return leaves[start:end]

    for size2 in range(1, 71):
        for size1 in range(1, size2 + 1):
            r1, r2 = tree.get_root(size1), tree.get_root(size2)
            ours = consistency_proof(size1, size2, source)
            assert verify_consistency(size1, size2, ours, r1, r2), (size1, size2)
            tree.prove_consistency(size1, size2).verify(r1, r2)


class _ListTree(BaseMerkleTree):  # type: ignore[misc]
    """pymerkle over a flat list of leaf hashes (its documented extension point)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self._leaves = leaves
        super().__init__("sha256")

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        self._leaves.append(digest)
        return len(self._leaves)

    def _get_leaf(self, index: int) -> bytes:
        return self._leaves[index - 1]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        return self._leaves[offset : offset + width]

    def _get_size(self) -> int:
        return len(self._leaves)


def test_pymerkle_on_the_same_leaf_list_gives_the_same_roots_and_paths() -> None:
    tree = _ListTree(list(LEAVES))
    for size in (1, 2, 3, 255, 256, 257, 1000, 1100):
        assert tree.get_root(size) == root(size, get_range)
        index = size // 3
        assert tree.prove_inclusion(index + 1, size).path[1:] == inclusion_proof(
            index, size, get_range
        )
