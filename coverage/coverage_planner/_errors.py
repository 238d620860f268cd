"""Exceptions with messages a planner can act on."""

from __future__ import annotations

from pathlib import Path


class CoverageError(Exception):
    """Base class for every error this package raises on purpose."""


class InputError(CoverageError, ValueError):
    """A problem in an input file, located by file, row and field.

    Parameters
    ----------
    path : str or Path or None
        The input file; ``None`` for input that did not come from a file.
    message : str
        What is wrong, for a planner.
    row : int, optional
        The 1-based data row as a planner sees it in a spreadsheet (the
        header is row 1, so the first data row is row 2); ``None`` when the
        problem concerns the whole file.
    field : str, optional
        The column or setting concerned.

    Attributes
    ----------
    path : Path or None
        The input file.
    row : int or None
        As given.
    field : str or None
        As given.
    detail : str
        ``message``, without the location.
    """

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.row = row
        self.field = field
        self.detail = message
        where = [str(self.path) if self.path is not None else "<input>"]
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class InputErrors(CoverageError, ValueError):
    """Several input problems found in one pass, reported together.

    Parameters
    ----------
    errors : list of InputError
        Every problem found; the message shows the first 20.

    Attributes
    ----------
    errors : list of InputError
        As given.
    """

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        shown = "\n".join(f"  - {e}" for e in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} problem(s) in the input:\n{shown}{more}")


class DataError(CoverageError, ValueError):
    """Places or parameters handed to the API (not read from a file) that cannot be used as given."""


class NetworkError(CoverageError):
    """The walking network could not be built or loaded."""


class ScenarioError(CoverageError):
    """A scenario file is missing, malformed or inconsistent."""


class CoverageWarning(UserWarning):
    """Something a user should know that does not stop the run (the CLI prints each as one line)."""


class CacheWarning(CoverageWarning):
    """A cache entry failed verification and was rebuilt; results equal a cold run."""
