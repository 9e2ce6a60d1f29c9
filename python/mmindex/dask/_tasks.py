"""Tasks on the cluster, a bounded window of them in flight, their
outcomes in submission order."""

from __future__ import annotations

from collections import deque
from concurrent.futures import CancelledError
from typing import Any, Callable, Deque, Dict, Iterator, List, Sequence, Tuple

from ..reports import Id, RecordError
from ._items import Item, Items, path_of


class Tasks:
    """Tasks of a few images each, at most ``window`` in flight, whose
    outcomes come back in submission order.

    ``args`` makes the tasks' leading arguments (scattering the vocabulary
    to the workers). When the cluster loses them (every worker holding the
    scattered data died), the tasks are cancelled: the arguments are made
    again, once per loss, and the tasks submitted again.
    """

    #: Losses of the scattered arguments survived in one run, at most.
    MAX_LOSSES = 8

    def __init__(
        self,
        client: Any,
        fn: Callable[..., List[Tuple[int, Any]]],
        args: Callable[[], Tuple[Any, ...]],
        window: int,
        retries: int,
        retried: List[Id],
    ) -> None:
        self.client, self.fn, self.make_args = client, fn, args
        self.args = args()
        self.losses = 0
        self.window, self.retries, self.retried = window, retries, retried
        self.pending: Deque[Tuple[List[int], List[Item], Any, int]] = deque()

    def _submit(self, chunk: List[Item]) -> Tuple[Any, int]:
        future = self.client.submit(self.fn, *self.args, chunk, pure=False, retries=self.retries)
        return future, self.losses

    def _lost(self, made: int, e: BaseException) -> None:
        """The task's arguments were lost (made at loss count ``made``)."""
        if self.client.status != "running":
            raise e
        if made == self.losses:
            self.losses += 1
            if self.losses > self.MAX_LOSSES:
                raise e
            self.args = self.make_args()

    def _settle(self, chunk: List[Item], future: Any, made: int) -> Dict[int, Any]:
        while True:
            try:
                return dict(future.result())
            except CancelledError as e:
                # Not the images' fault: the cluster lost the task or its
                # arguments.
                self._lost(made, e)
                future, made = self._submit(chunk)
            except Exception as e:  # noqa: BLE001 - what the task raised
                if self.client.status != "running":
                    raise
                failure: Exception = e
                break
        if len(chunk) > 1:
            # Find the image that fails: each alone, in order.
            self.retried.extend(id for _, id, _ in chunk)
            out: Dict[int, Any] = {}
            for item in chunk:
                out.update(self._settle([item], *self._submit([item])))
            return out
        pos, id, image = chunk[0]
        reason = (
            f"its task failed after {self.retries} retries: {type(failure).__name__}: {failure}"
        )
        return {pos: RecordError(id=id, path=path_of(image), reason=reason)}

    def run(
        self, groups: Iterator[Tuple[List[int], List[Item]]]
    ) -> Iterator[Tuple[List[int], Dict[int, Any]]]:
        """For each group of positions (in order), the outcomes of its
        items (an empty list of items submits nothing)."""
        for positions, chunk in groups:
            if chunk:
                future, made = self._submit(chunk)
            else:
                future, made = None, self.losses
            self.pending.append((positions, chunk, future, made))
            if len(self.pending) >= self.window:
                yield self._next()
        while self.pending:
            yield self._next()

    def _next(self) -> Tuple[List[int], Dict[int, Any]]:
        positions, chunk, future, made = self.pending.popleft()
        return positions, ({} if future is None else self._settle(chunk, future, made))

    def cancel(self) -> None:
        for _, _, future, _ in self.pending:
            if future is not None:
                future.cancel()
        self.pending.clear()


def groups(
    items: Items, positions: Sequence[int], chunk: int, skip: Callable[[int], bool]
) -> Iterator[Tuple[List[int], List[Item]]]:
    for start in range(0, len(positions), chunk):
        group = list(positions[start : start + chunk])
        yield group, [items.item(p) for p in group if not skip(p)]
