"""Progress bars (tqdm, when installed) for long writer calls."""

from __future__ import annotations

import importlib
from typing import Any, Optional


class Bars:
    """A progress callback drawing one tqdm bar per phase; does nothing
    when tqdm is not installed."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar: Any = None
        self._phase: Optional[str] = None
        self._shown = 0

    @classmethod
    def create(cls) -> "Bars":
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            tqdm = None
        return cls(tqdm)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._tqdm is None:
            return
        if phase != self._phase or self._bar is None:
            self.close()
            self._bar = self._tqdm(total=total, desc=phase, unit="img")
            self._phase = phase
            self._shown = 0
        if done > self._shown:
            self._bar.update(done - self._shown)
            self._shown = done

    def close(self) -> None:
        """Ends the current bar (at the end of each writer call)."""
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._phase = None
