"""HTML to PDF with WeasyPrint: the report's own HTML and print CSS, laid out on A4 pages.

WeasyPrint is a maintained HTML/CSS layout engine written in Python; it
uses Pango (through fontconfig) for text, so Chinese is set with the
system's CJK fonts, subset and embedded. The PDF carries no creation date
and no random identifier, so the same HTML gives the same bytes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from coverage_planner._errors import CoverageError
from coverage_planner._io import atomic_path

#: System libraries WeasyPrint needs, by Debian package name.
DEBIAN_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-noto-cjk")


class PdfError(CoverageError):
    """The PDF could not be made (WeasyPrint or the system libraries it needs are missing)."""


def html_to_pdf(html: str, path: str | Path, *, base_url: str | None = None) -> Path:
    """Lay out ``html`` (with its print CSS) as a PDF file, written atomically.

    Parameters
    ----------
    html : str
        A complete HTML document; images should be embedded (data URIs).
    path : str or Path
        The PDF to write.
    base_url : str, optional
        Where relative links in ``html`` point (default: the PDF's folder).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    PdfError
        When WeasyPrint cannot be imported (e.g. Pango is not installed).
    """
    path = Path(path)
    weasyprint = pdf_engine(path.name)
    document = weasyprint.HTML(string=html, base_url=base_url or str(path.parent.resolve()) + "/")
    with atomic_path(path) as tmp:
        document.write_pdf(tmp, pdf_identifier=False, custom_metadata=False)
    return path


def pdf_engine(target: str = "report.pdf") -> ModuleType:
    """Import WeasyPrint (about 0.7 s), so a caller can load it while other work runs, and fail early.

    Parameters
    ----------
    target : str, default "report.pdf"
        The file the PDF is for, named in the error.

    Returns
    -------
    module
        ``weasyprint``.

    Raises
    ------
    PdfError
        When WeasyPrint cannot be imported (e.g. Pango is not installed).
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfError(
            f"cannot write {target}: WeasyPrint is not usable ({exc}). Install it with the project "
            f"(pip install weasyprint) and its system libraries (Debian/Ubuntu: apt-get install "
            f"{' '.join(DEBIAN_PACKAGES)}); or turn the PDF off"
        ) from exc
    # WeasyPrint reports CSS it ignores (e.g. screen-only rules) as warnings: not the planner's concern.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    return weasyprint


__all__ = ["DEBIAN_PACKAGES", "PdfError", "html_to_pdf", "pdf_engine"]
