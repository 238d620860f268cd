"""Wall-clock time per stage of a run, for `--profile` (kept out of manifests: times are not reproducible)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Accumulates seconds per named stage, in the order stages first ran.

    Attributes
    ----------
    seconds : dict of str to float
        Wall-clock seconds per stage.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block, adding it to the stage's total.

        Parameters
        ----------
        name : str
            The stage; repeated stages accumulate.

        Yields
        ------
        None
        """
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
