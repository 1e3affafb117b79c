"""The verifier's last step: once the events have streamed past, compare the roots they
produced with the signed ones, check every proof, and decide how much of the bundle a
signature covers.

Trust, and bundles that start after 0
=====================================

The computed roots are what the events *say*; a valid signature over an equal root is
what makes them *authentic*. A computed root is authenticated by a signed checkpoint of
the same size, or by a valid consistency proof from it to an authenticated root (a tree
whose prefix is signed is signed in that prefix). A bundle is clean only if the root of
the whole range (size ``U``) is authenticated, so every event in it is covered by a
signature; otherwise it is incomplete. An exporter should therefore include a
checkpoint of size ``U`` or later (with a consistency proof from ``U``), making one on
demand if the latest is older than ``U``.

A bundle with ``A > 0`` cannot recompute the root from leaf 0. It starts from the
header's frontier, which is not trusted on its own: a root computed from it and the
bundle's events is compared with signed roots exactly like any other, and since the
frontier's subtrees are nodes of every later tree, a match authenticates the frontier
and the events together (forging either means a SHA-256 collision). ``prev_proof`` then
ties the header's ``prev_hash`` to that authenticated tree, so the first event's link
to the event before the range is checked too.

Without ``trusted_public_key`` the signatures are checked against the key the bundle
names, which proves internal consistency only: anyone can re-sign a rewritten log with
their own key. Pin the ledger's published key (and ideally a checkpoint obtained
earlier) to make "clean" mean "authentic". A ``trusted_checkpoint`` must be linked to the
bundle: its size within ``A .. U`` (roots compared), or a chain of valid consistency
proofs between it and a computed root; a mismatch or a failing proof is a fork
(tampered), no link at all is incomplete.
"""

from __future__ import annotations

from collections import deque

from ledger.integrity.bundle_evidence import ConsistencyLine, Evidence
from ledger.integrity.bundle_report import FailureLog, Verdict
from ledger.integrity.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion


def settle_trust(ev: Evidence, f: FailureLog) -> int | None:
    """Compare roots, check proofs, decide what is signed; returns ``signed_through``.

    That is the largest tree size in the range whose computed root is authenticated by a
    signature (or by the trusted checkpoint), ``None`` if there is none.
    """
    # Once the events are known to be broken, roots and proofs that could not be
    # computed are consequences, not separate findings.
    quiet = not ev.complete
    _compare_signed_roots(ev, f)
    valid = _check_consistency_proofs(ev, f, quiet)
    _check_inclusion_proofs(ev, f, quiet)
    authenticated = set(ev.signed)
    if ev.trusted is not None:
        authenticated.add(ev.trusted[0])
        _check_trusted(ev, f, valid, quiet)
    _extend_by_proofs(authenticated, valid)
    covered = [
        size
        for size, root in ev.computed.items()
        if size in authenticated and ev.root_agrees(size, root)
    ]
    signed_through = max(covered) if covered else None
    if not quiet:
        _report_unsigned(ev, f, signed_through)
    return signed_through


def _compare_signed_roots(ev: Evidence, f: FailureLog) -> None:
    for size, (root, line) in sorted(ev.signed.items()):
        if size in ev.computed and ev.computed[size] != root:
            f.tampered(
                f"the Merkle root of events 1..{size} is not the signed checkpoint's "
                f"root: an event up to {size} was altered with the chain re-hashed, or "
                "the checkpoint is wrong",
                size,
                line,
            )


def _check_consistency_proofs(ev: Evidence, f: FailureLog, quiet: bool) -> list[ConsistencyLine]:
    """Check every consistency proof whose roots are known; returns those that verify."""
    valid: list[ConsistencyLine] = []
    for p in ev.proofs:
        root1, root2 = ev.root_at(p.size1), ev.root_at(p.size2)
        if not 0 < p.size1 <= p.size2:
            # No roots could make this verify, so it is wrong rather than uncheckable.
            f.tampered(f"consistency proof {p.size1}->{p.size2}: impossible sizes", None, p.line)
        elif root1 is None or root2 is None:
            if not quiet:
                size = p.size1 if root1 is None else p.size2
                f.incomplete(
                    f"consistency proof {p.size1}->{p.size2}: no root is known for size {size}",
                    None,
                    p.line,
                )
        elif verify_consistency(p.size1, p.size2, p.proof, root1, root2):
            valid.append(p)
        else:
            trusted = ev.trusted is not None and ev.trusted[0] in (p.size1, p.size2)
            f.tampered(
                f"consistency proof {p.size1}->{p.size2} does not verify"
                + (": the log forks from the trusted checkpoint" if trusted else ""),
                None,
                p.line,
            )
    return valid


def _check_inclusion_proofs(ev: Evidence, f: FailureLog, quiet: bool) -> None:
    for inc in ev.inclusions:
        tree_root = ev.root_at(inc.size)
        if tree_root is None:
            if not quiet:
                f.incomplete(
                    f"inclusion proof of event {inc.position}: no root is known for size "
                    f"{inc.size}",
                    None,
                    inc.line,
                )
        elif not verify_inclusion(
            leaf_hash(inc.event_hash), inc.position - 1, inc.size, inc.proof, tree_root
        ):
            f.tampered(
                f"the inclusion proof of event {inc.position} in the tree of size "
                f"{inc.size} does not verify",
                inc.position if ev.after < inc.position <= ev.until else None,
                inc.line,
            )


def _extend_by_proofs(authenticated: set[int], valid: list[ConsistencyLine]) -> None:
    # A valid proof a -> b with b authenticated authenticates a: whoever signed the
    # tree of size b vouched for each of its prefixes. Few proofs: iterate to a fixpoint.
    grown = True
    while grown:
        grown = False
        for p in valid:
            if p.size2 in authenticated and p.size1 not in authenticated:
                authenticated.add(p.size1)
                grown = True


def _report_unsigned(ev: Evidence, f: FailureLog, signed_through: int | None) -> None:
    if ev.until == 0 or (signed_through is not None and signed_through >= ev.until):
        return
    start = max(ev.after, signed_through or 0) + 1
    if start <= ev.until:
        f.incomplete(f"events {start}..{ev.until} are not covered by any signed checkpoint", start)
    else:
        f.incomplete(f"the frontier at {ev.after} is not covered by any signed checkpoint")


def _check_trusted(ev: Evidence, f: FailureLog, valid: list[ConsistencyLine], quiet: bool) -> None:
    """The trusted checkpoint agrees with the bundle and is linked to it."""
    assert ev.trusted is not None
    size, root = ev.trusted
    if size == 0:
        # Every log extends the empty tree; only its root can be wrong.
        if root != EMPTY_ROOT:
            f.add(Verdict.ERROR, "the trusted checkpoint of size 0 has a non-empty root")
        return
    if size in ev.signed and ev.signed[size][0] != root:
        f.tampered(
            f"the bundle's checkpoint of size {size} contradicts the trusted checkpoint (a fork)",
            size if ev.after < size <= ev.until else None,
            ev.signed[size][1],
        )
    if size in ev.computed:
        if ev.computed[size] != root:
            f.tampered(
                f"the log forks from the trusted checkpoint: the root of events 1..{size} "
                "differs from the trusted root",
                size if size > ev.after else None,
            )
        return
    if not quiet and not _linked_to_trusted(ev, valid, size):
        f.incomplete(
            f"no consistency proof links the bundle to the trusted checkpoint of size {size}"
        )


def _linked_to_trusted(ev: Evidence, valid: list[ConsistencyLine], size: int) -> bool:
    # Linked if valid proofs lead, in the direction of growth, from the trusted size
    # to a computed root (trusted tree is a prefix of the bundle's) or from a computed
    # root to the trusted size (the bundle's tree is a prefix of the trusted one).
    edges: dict[int, list[int]] = {}
    for p in valid:
        edges.setdefault(p.size1, []).append(p.size2)
    if size < ev.after:
        sources, targets = {size}, set(ev.computed)
    else:
        sources, targets = set(ev.computed), {size}
    seen = set(sources)
    queue = deque(sources)
    while queue:
        node = queue.popleft()
        if node in targets:
            return True
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False
