"""The items of a distributed build or ingest: ``(id, image)`` pairs, by
position."""

from __future__ import annotations

import os
from typing import Any, List, Tuple

from .. import _mmindex

#: One item as the workers receive it: (position, id, image).
Item = Tuple[int, Any, Any]

_IMAGE_COLUMNS = ("image", "path", "bytes")


class Items:
    """``(id, image)`` items, indexable by position."""

    def __init__(self, items: Any) -> None:
        if hasattr(items, "columns"):
            cols = list(items.columns)
            image = next((c for c in _IMAGE_COLUMNS if c in cols), None)
            if "id" not in cols or image is None:
                raise ValueError(
                    "a DataFrame of items has an 'id' column and an 'image', 'path' or "
                    f"'bytes' column, not {cols}"
                )
            items = items[["id", image]]
            if hasattr(items, "npartitions"):
                # A Dask DataFrame: its two columns come to the driver.
                items = items.compute()
            self.ids: List[Any] = list(items["id"])
            self.images: List[Any] = list(items[image])
        else:
            self.ids, self.images = [], []
            pairs = items.items() if hasattr(items, "items") else items
            for item in pairs:
                try:
                    id, image = item
                except (TypeError, ValueError):
                    raise TypeError(f"an item is an (id, image) pair, not {item!r}") from None
                self.ids.append(id)
                self.images.append(os.fspath(image) if isinstance(image, os.PathLike) else image)
        # Every id is checked before any work, as a local add checks them:
        # a bad id found halfway would leave the first batches stored.
        for id in self.ids:
            _mmindex.encode_id(id)

    def __len__(self) -> int:
        return len(self.ids)

    def item(self, pos: int) -> Item:
        return (pos, self.ids[pos], self.images[pos])


def path_of(image: Any) -> str:
    """What a record error names as an image's path."""
    if isinstance(image, str):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return "<pixels>"
