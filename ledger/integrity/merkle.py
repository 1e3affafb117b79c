"""RFC 6962 / RFC 9162 Merkle trees over the ledger's event hashes.

The ledger's tree has one leaf per event, in position order (leaf index = position - 1),
and the leaf *data* is the event's 32-byte hash, so a leaf hash is
``SHA-256(0x00 || event_hash)`` and an interior node is ``SHA-256(0x01 || left || right)``
(RFC 9162 §2.1.1). The empty tree's root is ``SHA-256("")``.

Three kinds of caller use this module:

* the append path keeps a :class:`Frontier` (the roots of the O(log n) perfect
  subtrees that make up the tree so far), appends each new event in O(1) amortised
  hashes, reads the root for a checkpoint at any time and persists the frontier as a
  small JSON object;
* the proof endpoints call :func:`root`, :func:`inclusion_proof` and
  :func:`consistency_proof` with a *leaf source* ``get_range(start, end)`` (the leaf
  hashes of leaves ``start .. end-1``, backed by the database). Each proof needs
  O(log n) subtree roots; without a cache each root is recomputed from its leaves
  (O(n) hashing in total), and a :class:`SubtreeCache` turns that into O(log n)
  lookups once the perfect subtrees have been stored;
* verifiers (the offline bundle checker, an auditor's own code) call
  :func:`verify_inclusion` and :func:`verify_consistency`.

Verifiers never raise on bad input: they return ``False`` for anything that is not a
valid proof (wrong types, sizes, lengths or hashes). Functions that *build* trees and
proofs raise :class:`MerkleError` when asked for something that does not exist (an
index outside the tree, a leaf source that returns the wrong number of leaves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_DEFAULT_BATCH = 4096

LeafSource = Callable[[int, int], Sequence[bytes]]
"""``get_range(start, end)``: the leaf hashes of leaves ``start .. end - 1``, in order."""


class MerkleError(ValueError):
    """A tree or proof was requested that does not exist, or a leaf source misbehaved."""


class SubtreeCache(Protocol):
    """Storage for roots of perfect subtrees, keyed by their leaf range.

    Only ranges ``[start, end)`` whose width is a power of two and whose ``start`` is a
    multiple of that width are asked for or offered; those nodes never change once the
    tree has grown past ``end``, so an implementation may keep them forever. ``put`` is
    a hint: an implementation may keep only wide subtrees to bound its size.
    """

    def get(self, start: int, end: int) -> bytes | None: ...

    def put(self, start: int, end: int, root: bytes) -> None: ...


class MemorySubtreeCache:
    """A dict-backed :class:`SubtreeCache` keeping subtrees of at least ``min_width`` leaves.

    With ``min_width = w`` it holds about ``2n / w`` entries for ``n`` leaves, and a proof
    then hashes at most ``w`` leaves per subtree it needs.
    """

    def __init__(self, min_width: int = 1024) -> None:
        if min_width < 1:
            raise ValueError("min_width must be positive")
        self.min_width = min_width
        self._roots: dict[tuple[int, int], bytes] = {}

    def get(self, start: int, end: int) -> bytes | None:
        return self._roots.get((start, end))

    def put(self, start: int, end: int, root: bytes) -> None:
        if end - start >= self.min_width:
            self._roots[(start, end)] = root

    def __len__(self) -> int:
        return len(self._roots)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || data)``; for the ledger ``data`` is an event hash."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _is_digest(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_path(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray, str))


def _is_size(value: object) -> bool:
    # bool is an int subclass; True must not pass for a tree size of 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``): RFC 6962's split point."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold(parts: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree roots, given left to right, into the root of their union."""
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = _sha256(_NODE_PREFIX + part + result).digest()
    return result


def _reduce_perfect(leaves: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree (``len(leaves)`` is a power of two) from its leaf hashes."""
    level = list(leaves)
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        it = iter(level)
        level = [sha(prefix + a + b).digest() for a, b in zip(it, it, strict=True)]
    return level[0]


class Frontier:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves.

    A tree of ``n`` leaves is, left to right, one perfect subtree per set bit of ``n``
    (largest first); the RFC 6962 root is those subtree roots folded from the right.
    Appending a leaf merges equal-sized subtrees like a binary counter, so it costs one
    leaf hash plus on average one node hash, and the frontier never holds more than
    ``n.bit_length()`` hashes. It is what the ledger persists next to the log so that a
    checkpoint never has to re-read old events.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[bytes] = []

    @classmethod
    def from_nodes(cls, size: int, nodes: Sequence[bytes]) -> Frontier:
        """A frontier from its size and subtree roots (left to right); checks their count."""
        if not _is_size(size):
            raise MerkleError("frontier size must be a non-negative integer")
        if len(nodes) != size.bit_count():
            raise MerkleError(
                f"a frontier of size {size} has {size.bit_count()} nodes, not {len(nodes)}"
            )
        if not all(_is_digest(node) for node in nodes):
            raise MerkleError("frontier nodes must be 32-byte hashes")
        frontier = cls()
        frontier._size = size
        frontier._nodes = list(nodes)
        return frontier

    @classmethod
    def from_dict(cls, data: Any) -> Frontier:
        """Inverse of :meth:`to_dict`; raises :class:`MerkleError` on anything malformed."""
        if not isinstance(data, dict) or set(data) != {"size", "nodes"}:
            raise MerkleError("a frontier is an object with exactly 'size' and 'nodes'")
        nodes = data["nodes"]
        if not isinstance(nodes, list):
            raise MerkleError("frontier 'nodes' must be a list")
        return cls.from_nodes(data["size"], [_hash_from_hex(node) for node in nodes])

    def to_dict(self) -> dict[str, Any]:
        """``{"size": n, "nodes": [hex, ...]}``, the JSON form the ledger persists."""
        return {"size": self._size, "nodes": [node.hex() for node in self._nodes]}

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, left (largest) to right."""
        return tuple(self._nodes)

    def copy(self) -> Frontier:
        return Frontier.from_nodes(self._size, self._nodes)

    def append(self, leaf: bytes) -> None:
        """Append one leaf, given as its *leaf hash* (see :func:`leaf_hash`)."""
        if len(leaf) != HASH_SIZE:
            raise MerkleError("a leaf hash has 32 bytes")
        nodes = self._nodes
        n = self._size
        # Each trailing 1-bit of the old size is a perfect subtree of the new leaf's
        # width that now has a right sibling: merge them, as a binary carry would.
        while n & 1:
            leaf = _sha256(_NODE_PREFIX + nodes.pop() + leaf).digest()
            n >>= 1
        nodes.append(leaf)
        self._size += 1

    def append_data(self, data: bytes) -> None:
        """Append a leaf given by its data (for the ledger: the event hash)."""
        self.append(_sha256(_LEAF_PREFIX + data).digest())

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The RFC 6962 root of the tree so far (``EMPTY_ROOT`` when empty)."""
        if not self._nodes:
            return EMPTY_ROOT
        return _fold(self._nodes)


def _hash_from_hex(value: object) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE or value != value.lower():
        raise MerkleError("a hash is 64 lowercase hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise MerkleError("a hash is 64 lowercase hex characters") from None


class _Tree:
    """Subtree roots of one tree, computed from a leaf source and an optional cache."""

    def __init__(self, get_range: LeafSource, cache: SubtreeCache | None, batch: int) -> None:
        if batch < 1 or batch & (batch - 1):
            raise ValueError("leaf_batch must be a power of two")
        self._get_range = get_range
        self._cache = cache
        self._batch = batch

    def _leaves(self, start: int, end: int) -> Sequence[bytes]:
        leaves = self._get_range(start, end)
        if len(leaves) != end - start:
            raise MerkleError(f"leaf source returned {len(leaves)} leaves for [{start}, {end})")
        return leaves

    def perfect(self, start: int, width: int) -> bytes:
        """Root of the perfect subtree of ``width`` leaves starting at ``start``."""
        cache = self._cache
        if cache is not None:
            hit = cache.get(start, start + width)
            if hit is not None:
                return hit
        if width <= self._batch:
            result = _reduce_perfect(self._leaves(start, start + width))
        else:
            # Splitting (instead of reading all leaves at once) bounds memory to one
            # batch and lets the cache learn every wide subtree on the way.
            half = width >> 1
            result = node_hash(self.perfect(start, half), self.perfect(start + half, half))
        if cache is not None:
            cache.put(start, start + width, result)
        return result

    def decomposition(self, start: int, end: int) -> list[bytes]:
        """Roots of the perfect subtrees covering ``[start, end)``, largest first."""
        parts = []
        width = end - start
        for bit in range(width.bit_length() - 1, -1, -1):
            if width >> bit & 1:
                parts.append(self.perfect(start, 1 << bit))
                start += 1 << bit
        return parts

    def range_root(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)`` as RFC 6962 defines it for a subtree of the log."""
        if end == start:
            return EMPTY_ROOT
        return _fold(self.decomposition(start, end))


def root(
    size: int,
    get_range: LeafSource,
    *,
    subtree_cache: SubtreeCache | None = None,
    leaf_batch: int = _DEFAULT_BATCH,
) -> bytes:
    """The RFC 6962 root of the first ``size`` leaves."""
    if not _is_size(size):
        raise MerkleError("tree size must be a non-negative integer")
    return _Tree(get_range, subtree_cache, leaf_batch).range_root(0, size)


def frontier_at(
    size: int,
    get_range: LeafSource,
    *,
    subtree_cache: SubtreeCache | None = None,
    leaf_batch: int = _DEFAULT_BATCH,
) -> Frontier:
    """The :class:`Frontier` of the first ``size`` leaves, from a leaf source."""
    if not _is_size(size):
        raise MerkleError("tree size must be a non-negative integer")
    tree = _Tree(get_range, subtree_cache, leaf_batch)
    return Frontier.from_nodes(size, tree.decomposition(0, size))


def inclusion_proof(
    index: int,
    size: int,
    get_range: LeafSource,
    *,
    subtree_cache: SubtreeCache | None = None,
    leaf_batch: int = _DEFAULT_BATCH,
) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(index, D[size])``, the sibling nearest the leaf first."""
    if not (_is_size(index) and _is_size(size)) or index >= size:
        raise MerkleError(f"no leaf {index} in a tree of size {size}")
    tree = _Tree(get_range, subtree_cache, leaf_batch)
    path: list[bytes] = []
    start, end = 0, size
    # Walking down from the root, at most one sibling (a right one while ``end`` is
    # still the tree's edge) is ragged; every other sibling is a perfect subtree, so
    # the proof costs O(log n) subtree roots.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(tree.range_root(start + k, end))
            end = start + k
        else:
            path.append(tree.range_root(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(
    size1: int,
    size2: int,
    get_range: LeafSource,
    *,
    subtree_cache: SubtreeCache | None = None,
    leaf_batch: int = _DEFAULT_BATCH,
) -> list[bytes]:
    """RFC 9162 §2.1.4.1 ``PROOF(size1, D[size2])``; empty when the sizes are equal.

    ``size1 = 0`` is refused: every tree extends the empty tree, so such a proof would
    prove nothing, and :func:`verify_consistency` rejects it too.
    """
    if not (_is_size(size1) and _is_size(size2)) or not 0 < size1 <= size2:
        raise MerkleError(f"no consistency proof from size {size1} to size {size2}")
    tree = _Tree(get_range, subtree_cache, leaf_batch)
    path: list[bytes] = []
    # Iterative SUBPROOF(m, D[start:end], b): ``m`` counts the old tree's leaves in
    # the current range; ``whole`` is the RFC's flag ``b`` (the range's left edge is
    # the old tree's, so its root need not be sent).
    start, end, m, whole = 0, size2, size1, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            path.append(tree.range_root(start + k, end))
            end = start + k
        else:
            path.append(tree.range_root(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        path.append(tree.range_root(start, end))
    path.reverse()
    return path


def _inclusion_proof_length(index: int, size: int) -> int:
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: is ``leaf_hash`` the leaf at ``index`` of the tree ``(size, root)``?

    Also refuses a proof of the wrong length before hashing anything: a valid proof's
    length is fixed by ``index`` and ``size``.
    """
    if not (_is_digest(leaf_hash) and _is_digest(root)):
        return False
    if not (_is_size(index) and _is_size(size)) or index >= size or not _is_path(proof):
        return False
    if len(proof) != _inclusion_proof_length(index, size):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if not _is_digest(p) or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _consistency_proof_length(size1: int, size2: int) -> int:
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1
    seeded = 0 if size1 == 1 << shift else 1
    return seeded + inner - shift + border


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: does the tree ``(size2, root2)`` extend the tree ``(size1, root1)``?

    Cases outside the RFC's ``0 < size1 < size2``, as the transparency-dev test vectors
    expect: equal sizes need an empty proof and equal roots (and at size 0 the empty
    tree's root); ``size1 = 0 < size2`` is refused, because such a "proof" is empty and
    would vouch for any ``root2``; ``size1 > size2`` is refused.
    """
    if not (_is_size(size1) and _is_size(size2) and _is_path(proof)):
        return False
    if not (isinstance(root1, bytes) and isinstance(root2, bytes)):
        return False
    if size1 > size2:
        return False
    if size1 == size2:
        if len(proof) != 0 or root1 != root2:
            return False
        return size1 != 0 or root1 == EMPTY_ROOT
    if size1 == 0:
        return False
    if not (_is_digest(root1) and _is_digest(root2)):
        return False
    if len(proof) != _consistency_proof_length(size1, size2):
        return False
    if not all(_is_digest(p) for p in proof):
        return False

    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2
