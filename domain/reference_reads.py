"""What reference data answers to a recorded question (:data:`domain.reference.Read`):
:meth:`domain.reference.Reference.answers_alike` asks the questions an evaluation
recorded of two versions of the reference data, and the evaluation stands when every
answer is alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.vocabulary import AuthorizationKind

if TYPE_CHECKING:
    from domain.reference import Read, Reference

_KINDS = {
    "end_user": AuthorizationKind.END_USER,
    "maintainer": AuthorizationKind.MAINTAINER,
    "repair_facility": AuthorizationKind.REPAIR_FACILITY,
}


def answer(ref: Reference, read: Read) -> object:
    """What ``ref`` (reference data, not a view: it records nothing) answers to
    ``read``."""
    what, p = read[0], read[1]
    if what in ("anc", "party", "facility", "contract"):
        if p is None:
            return None
        if what == "anc":
            return ref.ancestors(p)
        return {"party": ref.parties, "facility": ref.facilities, "contract": ref.contracts}[
            what
        ].get(p)
    c = read[2]
    if what == "partner":
        return ref.partner(p, c)
    if what == "seller":
        return ref.seller_side(p, c)
    kind = _KINDS[str(what)]
    if p is None:
        return ()
    if kind is AuthorizationKind.REPAIR_FACILITY:
        return tuple(a for a in ref.authorisations_of(c) if a.kind is kind and a.subject_id == p)
    return tuple(
        a
        for a in ref.authorisations_of(c)
        if a.kind is kind
        and (a.subject_id == p or (a.includes_descendants and a.subject_id in ref.ancestors(p)))
    )
