"""Which assets asked which questions of the reference data (:class:`Asked`): what lets
new reference data judge again only the assets it answers otherwise."""

from __future__ import annotations

from collections.abc import Hashable

from domain.reference import Read, Reference
from domain.reference_reads import answer


class Asked:
    """Per question asked of the reference data (:data:`~domain.reference.Read`), the
    assets whose evaluations asked it, and the reference data the last of them were
    made with.

    An evaluation is a function of its events and of the answers to the questions it
    asked (:meth:`Reference.answers_alike`). New reference data (a party registered,
    an authorisation granted) leaves an evaluation standing unless it answers one of
    its questions otherwise: :meth:`otherwise` asks each question once, not each
    asset's questions one asset after another (at 10,000 assets, 60 µs an asset, most
    of them answered alike). It may name more assets than must be judged (an
    evaluation made again since asks fewer questions; what it asked before stays
    here), never fewer: every question an evaluation kept asked is noted
    (:meth:`note`) before the next reference data comes."""

    __slots__ = ("_by_read", "_noted", "ref")

    def __init__(self) -> None:
        self._by_read: dict[Read, set[str]] = {}
        # Per evaluation (an asset's, or its C04/C05 under a contract): the set of its
        # questions as last noted, and how many there were (the set only grows).
        self._noted: dict[Hashable, tuple[set[Read], int]] = {}
        self.ref: Reference | None = None
        """The reference data of the last judgement: every evaluation kept was made
        with it, or with data that answers its questions alike."""

    def note(self, key: Hashable, asset_id: str, reads: set[Read]) -> None:
        """The evaluation ``key`` of ``asset_id`` has asked ``reads`` (so far)."""
        seen = self._noted.get(key)
        if seen is not None and seen[0] is reads and seen[1] == len(reads):
            return  # the same questions: nearly every time
        for read in reads:
            held = self._by_read.get(read)
            if held is None:
                self._by_read[read] = {asset_id}
            else:
                held.add(asset_id)
        self._noted[key] = (reads, len(reads))

    def noted(self, asset_id: str) -> bool:
        """Whether an evaluation of the asset has been noted."""
        return asset_id in self._noted

    def otherwise(self, ref: Reference) -> set[str] | None:
        """The assets with a question ``ref`` answers otherwise than :attr:`ref` does
        (``None``: no reference data judged before, every asset is to judge)."""
        if self.ref is None:
            return None
        if ref is self.ref:
            return set()
        out: set[str] = set()
        for read, assets in self._by_read.items():
            if not assets <= out and answer(self.ref, read) != answer(ref, read):
                out |= assets
        return out
