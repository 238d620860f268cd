"""Hold Python's cycle collector while an output is built.

Building a map, a workbook or a chart allocates hundreds of thousands of
small containers; each allocation burst triggers collections that rescan
every live object (the run's tables included). None of those containers
form cycles that need collecting before the output is done.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Disable the cycle collector inside the block; restore its earlier state after.

    Yields
    ------
    None
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
