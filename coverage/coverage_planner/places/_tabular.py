"""Read place files into one raw, untyped table shape (internal).

:func:`read_raw` turns a CSV, XLSX, GeoJSON or GeoPackage file into a
:class:`RawTable`: header cells, data rows and the sheet row number of each,
plus geometries for vector files. It only reads and locates; giving the cells
meaning and validating them is ``reading.py``'s job. Every failure becomes an
:class:`~coverage_planner._errors.InputError` naming the file, never a library
traceback.

Nothing is guessed silently: a CSV that is not UTF-8 has its encoding detected
(charset-normalizer, then checks of its own), a file mixing encodings is refused
row by row, a workbook or GeoPackage with several place tables must be told
which one to read, and formula cells without saved values are named.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import functools
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from coverage_planner._errors import InputError, InputErrors
from coverage_planner.escape import restore_csv_cell

__all__ = [
    "SUFFIXES",
    "RawTable",
    "cell_number",
    "cell_text",
    "close_match_hint",
    "column_letter",
    "csv_delimiter",
    "csv_encoding",
    "formula_cells",
    "header_listing",
    "is_blank",
    "read_raw",
]

#: File suffixes read by each reader.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt", ".tsv"),
    "xlsx": (".xlsx", ".xlsm"),
    "vector": (".geojson", ".json", ".gpkg", ".shp"),
}

# The header is looked for in this many leading non-blank rows, so a title
# row or two above it (common in Excel exports) is skipped.
HEADER_SEARCH_ROWS = 5

# CSV is UTF-8 when it decodes as UTF-8 (with or without BOM); Excel's "Unicode
# text" export is UTF-16, recognised by its BOM. Otherwise the encoding is
# guessed among these: GB18030 (the superset of GBK that Chinese Excel
# writes), Windows-1252 (Western European, a superset of printable Latin-1)
# and Big5 (Traditional Chinese); any other must be declared.
_GUESSED_ENCODINGS = ("gb18030", "cp1252", "big5")
_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "gb18030": "GBK/GB18030",
    "cp1252": "Latin-1/Windows-1252",
    "big5": "Big5",
}

# "1,200" as Excel writes a formatted number into CSV.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
# Bytes that are not UTF-8, as decoding with "surrogateescape" keeps them.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
# Characters UTF-8 writes in three bytes or more (all CJK), and two-byte ones beyond Latin letters.
_THREE_BYTE = re.compile("[\u0800-\U0010ffff]")
_TWO_BYTE_NON_LATIN = re.compile("[\u0180-\u07ff]")
# "0,5" as a spreadsheet set to a European locale writes a decimal.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


@dataclass
class RawTable:
    """Cells of a place file as read, before any interpretation.

    Parameters
    ----------
    header : list of str
        Header cells, stripped; ``""`` where a header cell is empty.
    rows : list of list
        Data rows, each padded to ``len(header)``; blank rows are dropped.
    row_numbers : list of int
        Row of each data row as the user sees it: the sheet row for CSV and
        XLSX (header on row 1 unless title rows sit above it), the 1-based
        feature number for vector files.
    geometries : geopandas.GeoSeries or None
        One geometry per data row, in EPSG:4326, for vector files.
    geographic : bool
        Whether the file stored longitude/latitude (GCJ-02 and BD-09 only
        make sense then).
    sheet : str or None
        The worksheet or layer that was read (XLSX, GeoPackage).
    header_row : int
        Sheet row of the header (0 for vector files).
    header_cells : list of str
        The header row's cells as read, before empty columns were dropped.
    """

    header: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]
    geometries: gpd.GeoSeries | None = None
    geographic: bool = True
    sheet: str | None = None
    header_row: int = 0
    header_cells: list[str] = field(default_factory=list)


def is_blank(value: Any) -> bool:
    """Tell whether a cell is empty: None, NaN or only whitespace.

    Parameters
    ----------
    value : object
        A cell as read.

    Returns
    -------
    bool
    """
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, str):
        return not value.strip()
    return False


def cell_text(value: Any) -> str | None:
    """Cell as stripped text; whole floats lose their '.0' (Excel ids).

    Parameters
    ----------
    value : object
        A cell as read.

    Returns
    -------
    str or None
        None for a blank cell.
    """
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_number(value: Any) -> float:
    """Cell as a finite float; "1,200" (Excel's thousands) is 1200.

    Parameters
    ----------
    value : object
        A cell as read: a number or its text.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        With a message for the user (a decimal comma gets a hint).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number, str)):
        raise ValueError(f"{value!r} is not a number")
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        hint = ""
        if isinstance(text, str) and _DECIMAL_COMMA.fullmatch(text):
            hint = f" (a decimal comma? write {text.replace(',', '.')})"
        raise ValueError(f"{value!r} is not a number{hint}") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def close_match_hint(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, compared case-insensitively, or ''.

    Parameters
    ----------
    name : str
        What was given.
    candidates : sequence of str
        What would have been accepted.

    Returns
    -------
    str
    """
    folded = {c.strip().casefold(): c for c in candidates if c}
    match = difflib.get_close_matches(name.strip().casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean {folded[match[0]]!r}?)" if match else ""


def header_listing(header: Sequence[str]) -> str:
    """Non-empty header cells, quoted and comma-separated, for messages.

    Parameters
    ----------
    header : sequence of str
        The header row as read.

    Returns
    -------
    str
        ``"none"`` when every cell is empty.
    """
    return ", ".join(repr(h) for h in header if h) or "none"


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 -> 'A', 26 -> 'AA').

    Parameters
    ----------
    index : int
        0-based column index.

    Returns
    -------
    str
        The letters, as Excel shows them above the column.
    """
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def read_raw(
    path: Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    is_header: Callable[[Sequence[str]], bool] = lambda cells: False,
) -> RawTable:
    """Read a place file into a :class:`RawTable`.

    Parameters
    ----------
    path : pathlib.Path
        An existing file; its suffix picks the reader.
    sheet : str or int, optional
        XLSX sheet, or GeoPackage layer, by name or 0-based position. When
        not given, the one sheet (visible) or layer (with geometries) that
        holds a place table is read; several of them are an error listing
        them.
    encoding : str, optional
        Text encoding of a CSV file (any Python codec name); detected when
        not given.
    is_header : callable
        Tells whether a row of stripped cells is the header (used to skip
        title rows and to find the sheet holding places); when no row among
        the first few passes, the first non-blank row is the header.

    Returns
    -------
    RawTable

    Raises
    ------
    InputError
        Unsupported suffix, unreadable or corrupt file, unknown or ambiguous
        sheet or layer, undetectable encoding, or a file with no rows at all.
    InputErrors
        Rows in another encoding than the rest of the file, rows with more
        cells than the header (unquoted delimiters), or formula cells without
        saved values.
    """
    suffix = path.suffix.lower()
    if suffix in SUFFIXES["csv"]:
        rows, delimiter = _csv_rows(path, encoding)
        table = _from_grid(path, rows, is_header)
        _check_row_widths(path, table, rows, delimiter)
        return table
    if suffix in SUFFIXES["xlsx"]:
        rows, title, formulas = _xlsx_rows(path, sheet, is_header)
        table = _from_grid(path, rows, is_header)
        table.sheet = title
        _check_formulas(path, table, rows, formulas)
        return table
    if suffix in SUFFIXES["vector"]:
        return _read_vector(path, sheet)
    if suffix == ".xls":
        raise InputError(path, "old Excel .xls files are not read; save it as .xlsx or .csv")
    accepted = ", ".join(s for group in SUFFIXES.values() for s in group)
    raise InputError(path, f"unsupported file type {suffix or '(none)'!r}; use one of {accepted}")


# ---------------------------------------------------------------- CSV text


def csv_delimiter(text: str) -> str:
    """The delimiter of CSV text: ``,``, ``;`` or tab, guessed from its first line.

    Only the delimiter is taken from the guess: quoting stays RFC 4180's
    (``csv.excel``), whose doubled quotes a guess from one line gets wrong.

    Parameters
    ----------
    text : str
        Decoded CSV text.

    Returns
    -------
    str
    """
    first_line = text.split("\n", 1)[0]
    # A header line is remembered (a rerun reads the same header again; sniffing costs ~50 µs), a huge one not.
    return _remembered_delimiter(first_line) if len(first_line) <= 4096 else _line_delimiter(first_line)


def _line_delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ",;\t"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


_remembered_delimiter = functools.lru_cache(maxsize=64)(_line_delimiter)


def csv_encoding(path: Path, encoding: str | None = None) -> str:
    """The codec a CSV file is written in, checked as :func:`read_raw` checks it.

    Parameters
    ----------
    path : pathlib.Path
        A CSV file.
    encoding : str, optional
        The encoding declared for it, if any.

    Returns
    -------
    str
        A Python codec name to decode and write back the file with
        (``"utf-8-sig"`` when it starts with a UTF-8 byte-order mark).

    Raises
    ------
    InputError, InputErrors
        As :func:`read_raw` for the same file.
    """
    return _decode_csv(path, _read_bytes(path), encoding)[1]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _csv_rows(path: Path, encoding: str | None) -> tuple[list[tuple[int, list[Any]]], str]:
    """Decode and parse a CSV; (sheet row, cells) for every record, and the delimiter."""
    records, _, delimiter = _decode_csv(path, _read_bytes(path), encoding)
    # Cells our own writers neutralised ("'=…", escape.csv_cell) read back as they were written.
    return [
        (i, [restore_csv_cell(c) if c[:1] == "'" else c for c in cells]) for i, cells in enumerate(records, 1)
    ], delimiter


def _parse_csv(path: Path, text: str) -> tuple[list[list[str]], str]:
    delimiter = csv_delimiter(text)
    try:
        # A record spanning lines (quoted newline) is still one spreadsheet row.
        return list(csv.reader(io.StringIO(text), delimiter=delimiter)), delimiter
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}") from None


def _decode_csv(path: Path, data: bytes, declared: str | None) -> tuple[list[list[str]], str, str]:
    """(records, codec, delimiter) of CSV bytes; every encoding problem is an error naming its rows.

    The structure (delimiters, quotes, line breaks) is ASCII in every
    encoding read here, so records are split first, on the bytes as UTF-8
    with undecodable bytes kept aside, and each record is then checked and
    decoded on its own: a row in another encoding than the others is named.
    """
    codec = _codec(path, declared) if declared else None
    utf16_bom = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if codec is None and utf16_bom:
        codec = "utf-16"  # Excel's "Unicode text"
    if codec is not None and not _ascii_compatible(codec):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise InputError(path, f"the file is not valid {codec} text (byte {exc.start})") from None
        if "\x00" in text:
            raise InputError(path, f"the file is binary, not {codec} CSV text")
        records, delimiter = _parse_csv(path, text)
        return records, codec, delimiter
    if b"\x00" in data:
        hint = ""
        if data.count(0) > len(data) // 4:  # every other byte: UTF-16 without its byte-order mark
            order = "le" if data[1::2].count(0) > data[0::2].count(0) else "be"
            hint = f'; it looks like UTF-16 text without a byte-order mark: declare encoding = "utf-16-{order}"'
        raise InputError(path, f"the file is binary, not CSV text (it holds NUL bytes){hint}")
    bom = data.startswith(codecs.BOM_UTF8)
    if codec in ("utf-8", "utf-8-sig") or (codec is None and bom):
        codec = "utf-8-sig" if bom else "utf-8"
    if codec is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            records, delimiter = _parse_csv(path, text)
            _check_not_gbk(path, data, text, records)
            return records, "utf-8", delimiter
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    records, delimiter = _parse_csv(path, body.decode("utf-8", "surrogateescape"))
    raw = [[c.encode("utf-8", "surrogateescape") for c in cells] for cells in records]
    not_utf8 = [i for i, cells in enumerate(records) if any(_undecoded(c) for c in cells)]
    if codec in ("utf-8", "utf-8-sig"):
        if not_utf8:
            raise InputErrors([_not_utf8_error(path, i, raw[i], None) for i in not_utf8])
        return records, codec, delimiter
    if codec is None:
        codec = _guess_encoding(path, b"\n".join(b"\x1f".join(raw[i]) for i in not_utf8))
    undecoded = set(not_utf8)
    surely_utf8 = [
        i
        for i, cells in enumerate(raw)
        if i not in undecoded and any(not c.isascii() and _surely_utf8(c, codec) for c in cells)
    ]
    if surely_utf8 and not declared:
        if len(surely_utf8) >= len(not_utf8):
            raise InputErrors([_not_utf8_error(path, i, raw[i], codec, others=len(surely_utf8)) for i in not_utf8])
        raise InputErrors([_utf8_row_error(path, i, raw[i], codec, others=len(not_utf8)) for i in surely_utf8])
    if surely_utf8:
        raise InputErrors([_utf8_row_error(path, i, raw[i], codec, declared=True) for i in surely_utf8])
    decoded, errors = [], []
    for i, cells in enumerate(raw):
        try:
            decoded.append([c.decode(codec) for c in cells])
        except UnicodeDecodeError:
            errors.append(InputError(path, f"this row is not valid {_shown(codec)} text", row=i + 1))
    if errors:
        raise InputErrors(errors)
    return decoded, codec, delimiter


def _codec(path: Path, name: str) -> str:
    """Python's name of a declared encoding; an unknown one is an error."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise InputError(
            path, f"unknown text encoding {name!r}; use e.g. utf-8, gbk, gb18030, big5 or cp1252", field="encoding"
        ) from None
    return {"gbk": "gb18030", "gb2312": "gb18030"}.get(codec, codec)  # GB18030 reads GBK and GB2312 files alike


def _ascii_compatible(codec: str) -> bool:
    """Whether the codec writes delimiters, quotes and line breaks as the ASCII bytes (so records split on bytes)."""
    if codec.startswith(("iso2022", "hz", "utf-7", "utf_7")):
        return False  # stateful: multibyte characters are written with ASCII bytes
    try:
        return ',;\t"\r\n'.encode(codec) == b',;\t"\r\n'
    except (UnicodeError, LookupError):
        return False


def _undecoded(cell: str) -> bool:
    """Whether a cell decoded with ``surrogateescape`` kept bytes that are not UTF-8."""
    return _ESCAPED_BYTE.search(cell) is not None


def _shown(codec: str) -> str:
    return _ENCODING_NAMES.get(codec, codec)


@functools.cache
def _single_byte(codec: str) -> bool:
    """Whether every byte is one character in the codec (Windows-1252, Latin-1 …), unlike GBK or Big5."""
    return sum(len(bytes([b]).decode(codec, "ignore")) for b in range(0x80, 0x100)) > 96


def _gb2312_pairs(raw: bytes) -> float:
    """Share of the non-ASCII byte pairs of ``raw`` that lie in GB2312's range (both bytes 0xA1-0xFE).

    Simplified Chinese text in GBK is almost all such pairs; the same bytes
    read as another encoding (UTF-8's continuation bytes 0x80-0xBF, Big5's
    second bytes 0x40-0x7E) mostly are not. 0.0 when there are no pairs.
    """
    pairs = inside = 0
    i = 0
    while i < len(raw):
        if raw[i] < 0x80:
            i += 1
            continue
        pairs += 1
        inside += 0xA1 <= raw[i] <= 0xFE and i + 1 < len(raw) and 0xA1 <= raw[i + 1] <= 0xFE
        i += 2
    return inside / pairs if pairs else 0.0


def _common_hanzi(raw: bytes) -> float:
    """Share of the non-ASCII byte pairs of ``raw`` that are GB2312's common characters or its punctuation.

    Those are the first level (first byte 0xB0-0xD7, the 3,755 most used
    characters) and rows 0xA1-0xA3 (punctuation, fullwidth forms).
    """
    pairs = inside = 0
    i = 0
    while i < len(raw):
        if raw[i] < 0x80:
            i += 1
            continue
        pairs += 1
        lead_ok = 0xB0 <= raw[i] <= 0xD7 or 0xA1 <= raw[i] <= 0xA3
        inside += lead_ok and i + 1 < len(raw) and 0xA1 <= raw[i + 1] <= 0xFE
        i += 2
    return inside / pairs if pairs else 0.0


def _isolated_high_bytes(raw: bytes) -> float:
    """Share of the non-ASCII bytes of ``raw`` with ASCII on both sides (accented letters in European words)."""
    high = [i for i, b in enumerate(raw) if b >= 0x80]
    alone = sum(1 for i in high if (i == 0 or raw[i - 1] < 0x80) and (i + 1 == len(raw) or raw[i + 1] < 0x80))
    return alone / len(high) if high else 0.0


def _short_runs(raw: bytes) -> float:
    """How alone the non-ASCII bytes of ``raw`` stand, 0 to 1: 1 alone, 0.75 in twos ('çó'), 0 in longer runs.

    Accented letters in Western words stand alone or in twos; Chinese in a
    two-byte encoding makes runs of four bytes and more.
    """
    runs = [len(run) for run in re.findall(rb"[\x80-\xff]+", raw)]
    total = sum(runs)
    return sum(n * (1.0 if n == 1 else 0.75 if n == 2 else 0.0) for n in runs) / total if total else 0.0


def _ideographs(text: str) -> float:
    """Share of the non-ASCII letters of ``text`` that are CJK ideographs standing among other non-ASCII text.

    Fullwidth forms are left out; an ideograph with ASCII letters right on
    both sides ('T皻e', a Western accent read as a Chinese byte pair) does not count.
    """
    letters = [i for i, ch in enumerate(text) if not ch.isascii() and ch.isalpha() and not "\uff00" <= ch <= "\uffef"]
    cjk = 0
    for i in letters:
        ch = text[i]
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff":
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            cjk += not (before.isascii() and before.isalpha() and after.isascii() and after.isalpha())
    return cjk / len(letters) if letters else 0.0


def _fit(codec: str, raw: bytes) -> float:
    """How well bytes fit text in the codec, 0 to 1: checks of our own beside charset-normalizer's.

    On a few short names the library often cannot tell GBK from Big5 or
    Windows-1252 (all read without "mess"); the shapes can: Chinese names
    are ideographs, in GBK almost all within GB2312's range, and Western
    names have their accented letters alone between ASCII ones.
    """
    text = raw.decode(codec, "replace")
    if codec == "gb18030":
        return min(_gb2312_pairs(raw), _ideographs(text))
    if codec == "big5":
        # Big5's second byte may be ASCII, so a Western accent + letter reads as one ideograph;
        # real Big5 text seldom has a non-ASCII byte alone between ASCII ones.
        return _ideographs(text) * (1 - 0.5 * _isolated_high_bytes(raw))
    if codec == "cp1252":
        letters = [ch for ch in text if not ch.isascii()]
        return min(_short_runs(raw), sum(ch.isalpha() for ch in letters) / max(len(letters), 1))
    return 1.0


def _guess_encoding(path: Path, sample: bytes) -> str:
    """The encoding of the (non-UTF-8) ``sample``: charset-normalizer's answer, checked; ambiguity is an error.

    Of the library's matches, those that fit well (`_fit` 0.9 or more, else
    0.5 or more) are kept and the least chaotic wins; on a tie the best
    fitting, and GBK among equally fitting ones (the tool's users are in
    mainland China). Otherwise the file is refused, showing how it reads in each.
    """
    from charset_normalizer import from_bytes  # only files that are not UTF-8 need it

    scored = [(m, _fit(m.encoding, sample)) for m in from_bytes(sample, cp_isolation=list(_GUESSED_ENCODINGS))]
    matches = [x for x in scored if x[1] >= 0.9] or [x for x in scored if x[1] >= 0.5]
    declare = 'or declare its encoding (encoding = "…" in the scenario\'s section; read_places(..., encoding=…))'
    if not matches:
        names = ", ".join(_shown(c) for c in ("utf-8", *_GUESSED_ENCODINGS))
        raise InputError(
            path, f"cannot tell the text encoding: it reads as none of {names}. Save it as UTF-8 CSV, {declare}"
        )
    low = min(m.chaos for m, _ in matches)
    close = {m.encoding: fit for m, fit in matches if m.chaos <= low + 0.01}
    if len({sample.decode(codec, "replace") for codec in close}) == 1:
        return next(iter(close))
    best = max(close.values())
    winners = [codec for codec, fit in close.items() if fit >= best - 0.05]
    if best >= 0.9 and (len(winners) == 1 or "gb18030" in winners):
        return winners[0] if len(winners) == 1 else "gb18030"
    raise InputError(
        path, f"cannot tell the text encoding: {_readings(sample, close)}. Save it as UTF-8 CSV, {declare}"
    )


def _readings(sample: bytes, codecs_: Sequence[str]) -> str:
    """How the first non-ASCII row of ``sample`` reads in each codec, for messages."""
    first = next((line for line in sample.split(b"\n") if not line.isascii()), sample)
    shown = [f"as {_shown(c)} {first.decode(c, 'replace').replace(chr(31), ', ')[:40]!r}" for c in codecs_]
    return "its first non-ASCII row reads " + "; ".join(shown)


def _check_not_gbk(path: Path, data: bytes, text: str, records: list[list[str]]) -> None:
    """Refuse GBK that happens to be valid UTF-8 too (学知园 is, reading 'ѧ֪԰'): the whole file, or its rows.

    Such text has only two-byte UTF-8 characters beyond Latin-1's letters
    (Cyrillic, Armenian, IPA …), its bytes all in GB2312's range, and reads
    as Chinese in GBK; real UTF-8 Chinese uses three bytes a character.
    """
    if not _TWO_BYTE_NON_LATIN.search(text):
        return
    suspect, non_ascii = [], 0
    for i, cells in enumerate(records):
        row = "\x1f".join(cells)
        non_ascii += not row.isascii()
        if _THREE_BYTE.search(row) or not _TWO_BYTE_NON_LATIN.search(row):
            continue
        raw = row.encode("utf-8")
        try:
            gbk = raw.decode("gb18030")
        except UnicodeDecodeError:
            continue
        if _gb2312_pairs(raw) >= 0.9 and _ideographs(gbk) >= 0.9:
            suspect.append((i, raw.split(b"\x1f")))
    declare = (
        'or declare its encoding (encoding = "gbk" or "utf-8" in the scenario\'s section; read_places(..., encoding=…))'
    )
    if suspect and len(suspect) == non_ascii:
        raise InputError(
            path,
            f"cannot tell the text encoding: {_readings(data, ('utf-8', 'gb18030'))}. Save it as UTF-8 CSV, {declare}",
        )
    if suspect:
        raise InputErrors(
            [
                InputError(
                    path,
                    f"this row reads {_row_text(cells, 'utf-8')!r} as UTF-8 like the rest of the file, "
                    f"but looks like GBK text ({_row_text(cells, 'gb18030')!r}) pasted into it. "
                    "A file mixing encodings is not read: save the whole file as UTF-8 CSV "
                    '(or, if the row is right as it reads, declare encoding = "utf-8")',
                    row=i + 1,
                )
                for i, cells in suspect
            ]
        )


def _surely_utf8(raw: bytes, codec: str) -> bool:
    """Whether bytes that are valid UTF-8 are UTF-8 rather than text in ``codec``.

    In a one-byte code page, UTF-8 reads as "Ã©"-style pairs that real text
    does not hold; in GBK, UTF-8 Chinese (three bytes a character) mostly
    falls outside GB2312's range, and within it on rare characters: its
    first bytes 0xE4-0xE9 are GB2312's second level. (On the real names of
    the Beijing extract the score below is at most 0.41 for UTF-8 and at
    least 0.5 for GBK.)
    """
    try:
        raw.decode(codec)
    except UnicodeDecodeError:
        return True
    if _single_byte(codec):
        return True
    wide = _THREE_BYTE.search(raw.decode("utf-8")) is not None
    return wide and _gb2312_pairs(raw) * _common_hanzi(raw) < 0.45


def _row_text(raw: list[bytes], codec: str) -> str:
    return ", ".join(c.decode(codec, "replace") for c in raw if not c.isascii())[:60]


def _decodes(raw: list[bytes], codec: str) -> bool:
    try:
        for cell in raw:
            cell.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _not_utf8_error(path: Path, i: int, raw: list[bytes], codec: str | None, *, others: int = 0) -> InputError:
    """A row whose bytes are not UTF-8, in a file that is (declared, BOM, or most of its rows)."""
    if codec is None:
        joined = b"\x1f".join(raw)
        plausible = (c for c in _GUESSED_ENCODINGS if _decodes(raw, c) and _fit(c, joined) >= 0.5)
        codec = next(plausible, "latin-1")
    why = f"like the other {others} non-ASCII rows" if others else "as the file says it is"
    return InputError(
        path,
        f"this row is not UTF-8 text {why}; it may be {_shown(codec)} ({_row_text(raw, codec)!r}). "
        "A file mixing encodings is not read: save the whole file as UTF-8 CSV",
        row=i + 1,
    )


def _utf8_row_error(
    path: Path, i: int, raw: list[bytes], codec: str, *, others: int = 0, declared: bool = False
) -> InputError:
    """A row in UTF-8 in a file otherwise in ``codec``."""
    rest = (
        f"the file is declared {_shown(codec)}"
        if declared
        else f"the other {others} non-ASCII rows are {_shown(codec)}"
    )
    return InputError(
        path,
        f"this row is UTF-8 ({_row_text(raw, 'utf-8')!r}) but {rest}, in which it would read "
        f"{_row_text(raw, codec)!r}. A file mixing encodings is not read: save the whole file as UTF-8 CSV",
        row=i + 1,
    )


def _check_row_widths(path: Path, table: RawTable, grid: list[tuple[int, list[Any]]], delimiter: str) -> None:
    """A few rows with more cells than the header: a value holding the delimiter was not quoted."""
    width = len(table.header_cells)
    wide = [
        (n, len(cells))
        for n, cells in grid
        if n > table.header_row and len(cells) > width and any(not is_blank(c) for c in cells[width:])
    ]
    if not wide or len(wide) > len(table.rows) / 2:
        return  # none, or most rows: then a header cell is missing, reported as a column without header
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    raise InputErrors(
        [
            InputError(
                path,
                f"this row has {count} values but the header has {width} columns: a value holding the delimiter "
                f'{shown} must be in double quotes ("a{delimiter}b"), with any quote inside it doubled ("")',
                row=n,
            )
            for n, count in wide
        ]
    )


# ---------------------------------------------------------------- Excel


def _xlsx_rows(
    path: Path, sheet: str | int | None, is_header: Callable[[Sequence[str]], bool]
) -> tuple[list[tuple[int, list[Any]]], str, dict[tuple[int, int], str]]:
    """(sheet row, cells) of one worksheet, its title, and its formula cells that have no saved value."""
    import openpyxl  # only XLSX files need it

    try:
        # Not read-only: merged header cells are only visible in the full model (ledgers are small).
        # Formulas as written first; their saved values, if any, are read below.
        book = openpyxl.load_workbook(path)
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        ws = _pick_sheet(path, book, sheet, is_header)
        try:
            rows = [(i, list(row)) for i, row in enumerate(ws.iter_rows(values_only=True), 1)]
            formulas = formula_cells(ws)
            if formulas:
                rows = _saved_values(path, ws.title)
                formulas = {
                    (r, c): text
                    for (r, c), text in formulas.items()
                    if r > len(rows) or c > len(rows[r - 1][1]) or rows[r - 1][1][c - 1] is None
                }
            _spread_merged_header_cells(ws, rows)
            return rows, ws.title, formulas
        except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
            raise InputError(path, f"cannot read sheet {ws.title!r} ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()


def formula_cells(ws: Any) -> dict[tuple[int, int], str]:
    """The formula cells of an openpyxl worksheet loaded with its formulas.

    Parameters
    ----------
    ws : openpyxl.worksheet.worksheet.Worksheet
        A worksheet of a workbook loaded without ``data_only``.

    Returns
    -------
    dict
        (row, column) of each formula cell, both 1-based, to its formula text.
    """
    return {
        (cell.row, cell.column): str(getattr(cell.value, "text", cell.value))
        for line in ws.iter_rows()
        for cell in line
        if cell.data_type == "f"
    }


def _saved_values(path: Path, title: str) -> list[tuple[int, list[Any]]]:
    """Rows of a worksheet with each formula's value as last saved by a spreadsheet (None when never saved)."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)
    try:
        return [(i, list(row)) for i, row in enumerate(book[title].iter_rows(values_only=True), 1)]
    finally:
        book.close()


def _pick_sheet(path: Path, book: Any, sheet: str | int | None, is_header: Callable[[Sequence[str]], bool]) -> Any:
    """The worksheet to read: the named one, else the one visible sheet holding a place table."""
    names = [ws.title for ws in book.worksheets]
    if sheet is not None:
        if isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
            return book.worksheets[sheet]
        if isinstance(sheet, str) and sheet in names:
            return book[sheet]
        raise InputError(path, f"no sheet {sheet!r}; the workbook has {names}", field="sheet")
    if len(book.worksheets) == 1:
        return book.worksheets[0]
    visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
    tables = [ws for ws in book.worksheets if _holds_header(ws, is_header)]
    shown = [ws for ws in tables if ws.sheet_state == "visible"]
    if len(shown) == 1:
        return shown[0]
    if len(shown) > 1:
        listing = ", ".join(repr(ws.title) for ws in shown)
        raise InputError(
            path,
            f"{len(shown)} sheets hold a place table ({listing}); say which one to read: "
            f'sheet = "{shown[0].title}" in the scenario\'s section (read_places(..., sheet=…))',
            field="sheet",
        )
    if tables:
        hidden = ", ".join(f"{ws.title!r} ({ws.sheet_state})" for ws in tables)
        raise InputError(
            path,
            f"no visible sheet holds a place table but the hidden sheet(s) {hidden} do; unhide it in Excel, "
            f'or name it: sheet = "{tables[0].title}" in the scenario\'s section',
            field="sheet",
        )
    return visible[0] if visible else book.worksheets[0]


def _holds_header(ws: Any, is_header: Callable[[Sequence[str]], bool]) -> bool:
    """Whether a header row is among the first non-blank rows of a worksheet."""
    top = ws.iter_rows(max_row=10 * HEADER_SEARCH_ROWS, values_only=True)
    rows = [(i, list(row)) for i, row in enumerate(top, 1)]
    _spread_merged_header_cells(ws, rows)
    filled = [cells for _, cells in rows if not all(is_blank(c) for c in cells)]
    return any(is_header(_texts(cells)) for cells in filled[:HEADER_SEARCH_ROWS])


def _check_formulas(
    path: Path, table: RawTable, grid: list[tuple[int, list[Any]]], formulas: dict[tuple[int, int], str]
) -> None:
    """Formula cells without a saved value, by column: the file was written by a program, never saved by Excel."""
    by_column: dict[int, list[tuple[int, str]]] = {}
    for (r, c), text in sorted(formulas.items()):
        if r > table.header_row:
            by_column.setdefault(c - 1, []).append((r, text))
    errors = []
    for j, cells in sorted(by_column.items()):
        name = table.header_cells[j] if j < len(table.header_cells) and table.header_cells[j] else None
        label = repr(name) if name else f"{column_letter(j)} (no header)"
        rows = f"row {cells[0][0]}" if len(cells) == 1 else f"{len(cells)} rows, {cells[0][0]}–{cells[-1][0]}"
        errors.append(
            InputError(
                path,
                f"column {label} holds formulas with no saved values ({rows}, e.g. {cells[0][1]!r}): "
                "open the file in Excel or WPS and save it, so each formula's value is stored",
                field=name or column_letter(j),
            )
        )
    if errors:
        raise InputErrors(errors)


def _spread_merged_header_cells(ws: Any, rows: list[tuple[int, list[Any]]]) -> None:
    """Give every cell of a merged range near the top its range's value.

    A two-level header (名称 merged over two rows beside 坐标 over 经度 | 纬度)
    then reads as one header row: 名称, 经度, 纬度.
    """
    for merged in ws.merged_cells.ranges:
        if merged.min_row > HEADER_SEARCH_ROWS + 1:
            continue
        value = rows[merged.min_row - 1][1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if r - 1 < len(rows) and c - 1 < len(rows[r - 1][1]):
                    rows[r - 1][1][c - 1] = value


def _from_grid(
    path: Path,
    grid: list[tuple[int, list[Any]]],
    is_header: Callable[[Sequence[str]], bool],
) -> RawTable:
    """Find the header row in a grid of cells and split off the data rows."""
    filled = [(n, cells) for n, cells in grid if not all(is_blank(c) for c in cells)]
    if not filled:
        raise InputError(path, "the file is empty (no header, no rows)")
    head_at = next(
        (k for k, (_, cells) in enumerate(filled[:HEADER_SEARCH_ROWS]) if is_header(_texts(cells))),
        0,
    )
    header_row, header = filled[head_at][0], _texts(filled[head_at][1])
    header_cells = list(header)
    body = filled[head_at + 1 :]
    width = max([len(header), *(len(cells) for _, cells in body)])
    header += [""] * (width - len(header))
    rows = [list(cells) + [None] * (width - len(cells)) for _, cells in body]
    # Excel often reports formatted but empty columns: drop those silently.
    keep = [j for j in range(width) if header[j] or any(not is_blank(r[j]) for r in rows)]
    return RawTable(
        header=[header[j] for j in keep],
        rows=[[r[j] for j in keep] for r in rows],
        row_numbers=[n for n, _ in body],
        header_row=header_row,
        header_cells=header_cells,
    )


def _texts(cells: Sequence[Any]) -> list[str]:
    return ["" if is_blank(c) else str(c).strip() for c in cells]


def _read_vector(path: Path, layer: str | int | None) -> RawTable:
    """Read GeoJSON/GPKG/Shapefile attributes and geometries, in EPSG:4326."""
    try:
        listed = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as a GIS vector file ({type(exc).__name__}: {exc})") from None
    layers = [str(name) for name in listed[:, 0]]
    if layer is None:
        # Tables without geometries (GeoPackage attribute tables) hold no places.
        spatial = [str(name) for name, kind in listed if kind is not None] or layers
        if len(spatial) > 1:
            raise InputError(
                path,
                f"the file has {len(spatial)} layers with geometries ({', '.join(map(repr, spatial))}); say which "
                f'one to read: layer = "{spatial[0]}" in the scenario\'s section (read_places(..., layer=…))',
                field="layer",
            )
        layer = spatial[0] if spatial else 0
    elif not ((isinstance(layer, int) and 0 <= layer < len(layers)) or layer in layers):
        raise InputError(path, f"no layer {layer!r}; the file has {layers}", field="layer")
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as a GIS vector file ({type(exc).__name__}: {exc})") from None
    if len(frame) == 0:
        raise InputError(path, "the file has no features")
    geographic = True
    if frame.crs is not None:
        geographic = bool(frame.crs.is_geographic)
        if not frame.crs.equals("EPSG:4326"):
            try:
                frame = frame.to_crs("EPSG:4326")
            except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
                raise InputError(path, f"cannot reproject from {frame.crs.name} to WGS-84: {exc}") from None
    attributes = frame.drop(columns=frame.geometry.name)
    rows = [[None if is_blank(v) else v for v in record] for record in attributes.itertuples(index=False, name=None)]
    header = [str(c).strip() for c in attributes.columns]
    return RawTable(
        header=header,
        rows=rows,
        row_numbers=list(range(1, len(frame) + 1)),
        geometries=frame.geometry.reset_index(drop=True),
        geographic=geographic,
        sheet=layers[layer] if isinstance(layer, int) else layer,
        header_cells=list(header),
    )
