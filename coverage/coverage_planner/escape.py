"""Escaping of data text (names, types, districts …) for every place it is written: HTML, JavaScript, Markdown, CSV, folders.

Place files and OSM tags are written by people we do not control, so a site
called ``</script><script>…`` or ``=HYPERLINK(…)`` must come out as that
text, never as markup, script or a spreadsheet formula. Each helper targets
one context; use the one for the place the text lands in.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

import pandas as pd

#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP's list, plus
#: LF and NUL as the OWASP ASVS adds); spaces in front do not stop every spreadsheet.
FORMULA_TRIGGERS = "=+-@\t\r\n\x00"
_FORMULA = re.compile(r"'*[ \u00a0\u3000]*[=+\-@\t\r\n\x00]")
_LEADS = frozenset(FORMULA_TRIGGERS + "' \u00a0\u3000")
_QUOTED_FORMULA = re.compile(r"'+[ \u00a0\u3000]*[=+\-@\t\r\n\x00]")
#: Characters with a meaning in Markdown (CommonMark backslash-escapes any ASCII punctuation).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$&])")
#: Names Windows reserves for devices, in any case and with any extension.
_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?")


def html_text(value: object) -> str:
    """Text for HTML element content or a quoted attribute value.

    Braces are escaped too: folium renders the script it generates once more
    as a Jinja2 template, so a name holding ``{{ … }}`` or ``{% … %}`` would
    otherwise be evaluated as Python-side template code when the map is saved.

    Parameters
    ----------
    value : object
        Any value; it is shown through ``str``.

    Returns
    -------
    str
        ``&``, ``<``, ``>``, ``"``, ``'``, ``{`` and ``}`` as character references.
    """
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def html_in_js_template(value: object) -> str:
    """HTML text that is also inert inside a JavaScript template literal (`` `…` ``).

    folium puts marker tooltips and popups into template literals in a
    ``<script>``: besides the HTML escapes, the backtick, ``$`` (as in
    ``${…}``) and the backslash become character references, which the
    browser shows as the characters themselves once the HTML is parsed.

    Parameters
    ----------
    value : object
        Any value; it is shown through ``str``.

    Returns
    -------
    str
        Text with no ``<``, ``>``, ``&`` (other than references), quote, brace, backtick, ``$`` or ``\\``.
    """
    return html_text(value).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def markdown_text(value: object) -> str:
    """Text for a Markdown table cell or heading: punctuation backslash-escaped, line breaks as spaces.

    Parameters
    ----------
    value : object
        Any value; it is shown through ``str``. Missing values give ``""``.

    Returns
    -------
    str
        Text a Markdown renderer shows literally, without splitting the table row.
    """
    if _missing(value):
        return ""
    text = re.sub(r"[\r\n\u2028\u2029]+", " ", str(value))
    return _MARKDOWN.sub(r"\\\1", text)


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table whose text cells and headers show literally.

    Text goes through `markdown_text` and is never read as a number (a
    name ``+1`` or ``1e5`` stays as written); numeric columns print as numbers.

    Parameters
    ----------
    frame : DataFrame
        The table; its index is not written.

    Returns
    -------
    str
        A pipe table.
    """
    out = frame.copy()
    text_columns = []
    for i, column in enumerate(out.columns):
        if not _is_numeric(out[column]):
            text_columns.append(i)
            out[column] = [v if _missing(v) else markdown_text(v) for v in out[column].tolist()]
    out.columns = [markdown_text(c) for c in out.columns]
    return out.to_markdown(index=False, disable_numparse=text_columns or False)


def csv_cell(value: object) -> object:
    """A cell that a spreadsheet shows as the text it is, never runs as a formula (OWASP's advice).

    Text whose first character (after any spaces and quotes) is one of
    `FORMULA_TRIGGERS` gets a leading ``'``; text that already starts with
    quotes before such a character gets one more, so `restore_csv_cell` can
    undo it exactly. Anything that is not text (numbers, booleans, missing)
    is returned as it is.

    Parameters
    ----------
    value : object
        A cell about to be written to CSV.

    Returns
    -------
    object
        ``value``, with one more leading ``'`` when it is text a spreadsheet would run.
    """
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def restore_csv_cell(value: object) -> object:
    """Undo `csv_cell`: the text as it was before it was written.

    Parameters
    ----------
    value : object
        A cell read back from a CSV file this package wrote.

    Returns
    -------
    object
        ``value`` without the ``'`` that `csv_cell` added.
    """
    if isinstance(value, str) and _QUOTED_FORMULA.match(value):
        return value[1:]
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` ready for ``to_csv``: every text cell through `csv_cell`, numeric columns untouched.

    A negative number in a numeric column stays a number; the text
    ``"-5 号楼"`` in a name column is quoted.

    Parameters
    ----------
    frame : DataFrame
        The table to write; it is not modified.

    Returns
    -------
    DataFrame
        The copy; header cells are neutralised too.
    """
    out = frame.copy()
    for column in out.columns:
        if _is_numeric(out[column]):
            continue
        values = out[column].tolist()
        # Most cells fail the first-character test; the regex runs on the few that pass.
        if any(isinstance(v, str) and v[:1] in _LEADS and _FORMULA.match(v) for v in values):
            out[column] = pd.Series([csv_cell(v) for v in values], index=out.index, dtype=object)
    out.columns = [csv_cell(c) for c in out.columns]
    return out


def restore_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo `csv_frame` on a table read back from CSV (text columns only).

    Parameters
    ----------
    frame : DataFrame
        A table read from a CSV file written through `csv_frame`; it is not modified.

    Returns
    -------
    DataFrame
        A copy with cells and headers as they were before writing.
    """
    out = frame.copy()
    for column in out.columns:
        if _is_numeric(out[column]):
            continue
        values = out[column].tolist()
        if any(isinstance(v, str) and v[:1] == "'" and _QUOTED_FORMULA.match(v) for v in values):
            out[column] = pd.Series([restore_csv_cell(v) for v in values], index=out.index, dtype=object)
    out.columns = [restore_csv_cell(c) for c in out.columns]
    return out


def safe_folder_name(name: str, *, fallback: str = "scenario", max_length: int = 80) -> str:
    """One path component made from ``name`` that stays inside the folder it is joined to.

    Letters of any script (Chinese included), digits, ``_``, ``-`` and
    inner dots are kept; path separators, control and other characters
    become ``_``; leading dots, dashes and underscores and trailing dots go,
    so ``..`` or ``.hidden`` cannot climb out or hide and ``-rf`` is no
    command-line option. Windows device names (``CON``, ``nul.txt`` …) get
    a ``_`` after the device name. An empty result becomes ``fallback``.

    Parameters
    ----------
    name : str
        A scenario's file stem or ``name``.
    fallback : str, default "scenario"
        Used when nothing usable is left.
    max_length : int, default 80
        At most this many characters (80 CJK characters are 240 bytes in UTF-8, under every file system's limit).

    Returns
    -------
    str
        Never empty, ``.`` or ``..``; contains no ``/`` or ``\\``.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = re.sub(r"[^\w.-]+", "_", text)  # \w is Unicode-aware: CJK letters stay
    # No leading "-" either, which shell commands would read as an option.
    text = text[:max_length].lstrip(". _-").rstrip(". _") or fallback
    if device := _RESERVED.fullmatch(text):  # Windows reads the part before the first dot
        text = f"{device.group(1)}_{device.group(2) or ''}"
    return text


def short_hash(text: str, length: int = 8) -> str:
    """First ``length`` hex digits of the SHA-256 of ``text`` (a stable, short tag).

    Parameters
    ----------
    text : str
        Any text, lone surrogates included.
    length : int, default 8
        How many hex digits to keep (at most 64).

    Returns
    -------
    str
        Lower-case hex digits.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


__all__ = [
    "FORMULA_TRIGGERS",
    "csv_cell",
    "csv_frame",
    "html_in_js_template",
    "html_text",
    "markdown_table",
    "markdown_text",
    "restore_csv_cell",
    "restore_csv_frame",
    "safe_folder_name",
    "short_hash",
]
