"""``ShardedSearcher``: several indexes on one exported vocabulary searched
as one, and ``shard_of``, the routing of record ids to shards."""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence

from . import _convert, _mmindex
from ._index import Index
from ._typing import ImageLike
from .reports import Id

__all__ = ["ShardedSearcher", "ShardHit", "shard_of"]


class ShardHit(NamedTuple):
    """One result of a sharded search, best first. Unpacks as ``shard, id,
    score, inliers``."""

    shard: int
    """The shard holding the record (its position in the searcher's list)."""
    id: Id
    """The record's id."""
    score: float
    """Bag-of-words similarity in (0, 1]."""
    inliers: Optional[int]
    """As :attr:`Hit.inliers <mmindex.Hit.inliers>`."""


def shard_of(id: Id, shards: int) -> int:
    """The shard of ``shards`` a record id belongs to: a stable hash of the
    id's stored form, the same in Rust, in Python and on every machine."""
    return _mmindex.shard_of(id, shards)


class ShardedSearcher:
    """Searches indexes built on the same exported vocabulary
    (:meth:`Index.export_vocabulary`, ``Index.open(vocabulary=...)``) as
    one: the hits, scores and inliers of one index holding every shard's
    records (candidates with exactly equal scores ordered by shard).
    Raises ``VocabularyError`` for shards on different vocabularies.
    Shards are searched in parallel, with the GIL released."""

    def __init__(self, indexes: Sequence[Index]) -> None:
        self._native = _mmindex.ShardedSearcher([i._native for i in indexes])

    @property
    def shards(self) -> int:
        """Number of shards."""
        return self._native.shards

    def search(
        self,
        query: ImageLike,
        top_k: int = 10,
        *,
        mode: str = "inverted",
        rerank: int = 300,
        rerank_patience: int = 150,
        scoring: Optional[str] = None,
        threads: int = 0,
        query_share: float = 1.0,
        color_order: str = "rgb",
    ) -> List[ShardHit]:
        """As :meth:`Index.search`, over every shard."""
        _convert.check_order(color_order)
        q = _convert.image(query, color_order)
        raw = self._native.search(
            q,
            top_k=top_k,
            mode=mode,
            rerank=rerank,
            rerank_patience=rerank_patience,
            scoring=scoring,
            threads=threads,
            query_share=query_share,
        )
        return [ShardHit(s, i, sc, n) for (s, i, sc, n) in raw]
