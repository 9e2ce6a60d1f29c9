"""What mmindex calls return: hits, reports, counts.

All are immutable values. Record ids (``Id``) come back as the type they
were given in (``str``, ``bytes`` or ``int``; see docs/PYTHON.md, "Ids").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, NamedTuple, Optional, Tuple, Union

__all__ = [
    "Id",
    "Hit",
    "RecordError",
    "AddReport",
    "TrainReport",
    "RebuildReport",
    "Stats",
    "Space",
    "VerifyReport",
    "Record",
    "CompactReport",
    "WarmReport",
    "Config",
]

#: A record id: kept and returned as given.
Id = Union[str, bytes, int]


class Hit(NamedTuple):
    """One search result, best first. Unpacks as ``id, score, inliers``."""

    id: Id
    """The record's id."""
    score: float
    """Bag-of-words similarity in (0, 1]; higher is more similar."""
    inliers: Optional[int]
    """Features one geometric transform maps between the query and the
    record, for re-ranked hits; hits with at least ``mmindex.MIN_INLIERS``
    come first. ``None`` when the hit was not re-ranked."""


@dataclass(frozen=True)
class RecordError:
    """A record that could not be indexed; the rest of its batch was."""

    id: Id
    path: str
    """The image file, ``"<bytes>"`` or ``"<pixels>"`` for images in memory,
    or the folder that could not be listed."""
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _errors(raw: Any) -> List[RecordError]:
    return [RecordError(id=i, path=str(p), reason=r) for (i, p, r) in raw]


@dataclass(frozen=True)
class AddReport:
    """What an ingest call did. Every record given is in exactly one of
    added, replaced, failed (``empty`` ones are counted as added or
    replaced too)."""

    added: int
    """New records stored."""
    replaced: int
    """Existing records replaced (same id given again)."""
    empty: List[Id] = field(default_factory=list)
    """Records stored without features (no keypoints even at the lowest
    thresholds): found by id, never a search hit."""
    failed: List[RecordError] = field(default_factory=list)
    """Records not stored, with the reason."""

    @property
    def complete(self) -> bool:
        """Whether every record given was stored."""
        return not self.failed

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "AddReport":
        return cls(
            added=d["added"],
            replaced=d["replaced"],
            empty=list(d["empty"]),
            failed=_errors(d["failed"]),
        )


@dataclass(frozen=True)
class TrainReport:
    """What training a codebook did."""

    images: int
    """Images the codebook was trained on (all of them, or the training
    subset of a larger collection: ``training_images``)."""
    descriptors: int
    """Descriptors extracted from them."""
    sampled: int
    """Descriptors in the training sample."""
    words: int
    """Words in the trained codebook."""
    generation: int
    """The generation installed."""
    seconds: Tuple[float, float, float]
    """Seconds spent extracting, training and quantizing."""
    scratch_bytes: int = 0
    """The most bytes held in temporary files at once (0 when the codebook
    was trained on a subset and the other images streamed)."""
    failed: List[RecordError] = field(default_factory=list)
    """Images that could not be used."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "TrainReport":
        return cls(
            images=d["images"],
            descriptors=d["descriptors"],
            sampled=d["sampled"],
            words=d["words"],
            generation=d["generation"],
            scratch_bytes=d["scratch_bytes"],
            seconds=(d["seconds"][0], d["seconds"][1], d["seconds"][2]),
            failed=_errors(d["failed"]),
        )


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did."""

    train: TrainReport
    """Training of the new codebook."""
    records: int
    """Records carried over into the new generation."""
    previous: int
    """The generation that was active before."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "RebuildReport":
        return cls(
            train=TrainReport._from(d["train"]), records=d["records"], previous=d["previous"]
        )


@dataclass(frozen=True)
class Stats:
    """Counts and sizes of an index (cheap to read)."""

    records: int
    words: int
    """Words of the active vocabulary (0 before training)."""
    generation: int
    """The active generation (0 before training)."""
    feature: str
    postings: int
    """Sum over records of their distinct words."""
    bytes_on_disk: int
    tree: Optional[Tuple[int, int]]
    """The vocabulary tree's (branching, depth), or None for a flat codebook."""
    unsealed_postings: int
    """Postings of the newest records not yet sealed into posting blocks."""
    trained_images: Optional[int]
    """Images the vocabulary was trained on (None when not recorded)."""
    vocabulary_outgrown: bool
    """The collection has outgrown its vocabulary: ``rebuild`` advised."""


@dataclass(frozen=True)
class Space:
    """Logical bytes (keys and values) of each kind of stored data."""

    postings: int
    posting_blocks: int
    histograms: int
    norms: int
    geometry: int
    codebook: int
    metadata: int


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification: invariant violations and notes."""

    violations: List[str]
    notes: List[str]

    @property
    def ok(self) -> bool:
        """Whether no invariant is violated."""
        return not self.violations


@dataclass(frozen=True)
class Record:
    """A stored record's metadata."""

    id: Id
    source: Optional[str]
    """The image file it was indexed from, or None for images in memory."""
    content_hash: int
    """FNV-1a 64 of the image bytes (the pixel buffer, for arrays)."""
    words: int
    """Distinct visual words in its histogram."""
    features: int
    """Features counted in its histogram."""


@dataclass(frozen=True)
class CompactReport:
    """What a compaction did."""

    bytes_before: int
    bytes_after: int
    copy_bytes: int
    kept: bool
    """Whether the compacted copy replaced the index."""
    posting_blocks: Tuple[int, int]
    """Posting blocks before and in the copy."""


@dataclass(frozen=True)
class WarmReport:
    """What warming the search cache did."""

    words: int
    """Words whose posting lists were read (or found cached)."""
    bytes: int
    """Bytes the cache held afterwards."""


@dataclass(frozen=True)
class Config:
    """An index's persistent configuration (see ``Index.open``)."""

    feature: str
    words: int
    max_side: int
    max_pixels: int
    max_features: int
    min_features: int
    sample_cap: int
    samples_per_word: int
    kmeans_iterations: int
    seed: int
    scoring: str
