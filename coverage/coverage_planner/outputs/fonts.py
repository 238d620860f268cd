"""Finding a font with Chinese glyphs, and making matplotlib use it.

matplotlib only knows the fonts in a cache it built once, so a CJK font
installed later (or a Windows font it does not list) is never picked, and
missing glyphs come out as empty boxes. Here the font *file* is looked up
directly and registered with ``matplotlib.font_manager.fontManager.addfont``:

1. the file named by the ``COVERAGE_CJK_FONT`` environment variable;
2. fontconfig (``fc-match``/``fc-list`` for ``lang=zh-cn``), on Linux and
   wherever fontconfig is installed;
3. the usual font folders of macOS (PingFang, Hiragino Sans GB, STHeiti),
   Windows (Microsoft YaHei ``msyh.ttc``, SimHei, DengXian, SimSun) and Linux
   (Noto Sans CJK, Source Han Sans, WenQuanYi, Droid Sans Fallback).

A candidate counts only when its character map really holds the Chinese
probe characters (read with FreeType, through matplotlib). When none does, `require_glyphs`
raises `FontMissingError` naming the packages that provide one, instead of
drawing boxes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from coverage_planner._errors import CoverageError

#: Environment variable naming a font file (.ttf/.otf/.ttc) to use for Chinese text.
FONT_ENV = "COVERAGE_CJK_FONT"
#: Characters every usable font must have (report words in Chinese).
PROBE = "步行覆盖率区街道社区类型站点分钟米呼和浩特"
#: How to get a CJK font, for error messages and the README.
INSTALL_HINT = (
    "install a font with Chinese glyphs: Debian/Ubuntu `apt-get install fonts-noto-cjk` "
    "(or fonts-wqy-zenhei), Fedora `dnf install google-noto-sans-cjk-fonts`, "
    "Alpine `apk add font-noto-cjk`; macOS (PingFang) and Windows (Microsoft YaHei, SimHei) ship one. "
    f"Or set {FONT_ENV} to the path of a .ttf/.otf/.ttc font file"
)
# Family names in order of preference: simplified-Chinese sans faces first.
_PREFERRED = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "Microsoft YaHei",
    "Microsoft YaHei UI",
    "PingFang SC",
    "Hiragino Sans GB",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "DengXian",
    "Heiti SC",
    "STHeiti",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "SimSun",
    "Arial Unicode MS",
)
_KNOWN_FILES = {
    "darwin": (
        "/System/Library/Fonts/PingFang.ttc",
        "/System/Library/Fonts/Hiragino Sans GB.ttc",
        "/System/Library/Fonts/STHeiti Light.ttc",
        "/System/Library/Fonts/STHeiti Medium.ttc",
        "/Library/Fonts/Arial Unicode.ttf",
        "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    ),
    "win32": ("msyh.ttc", "msyh.ttf", "simhei.ttf", "Deng.ttf", "simsun.ttc"),
    "linux": (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
        "/usr/share/fonts/adobe-source-han-sans/SourceHanSansSC-Regular.otf",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",
    ),
}


class FontMissingError(CoverageError):
    """No installed font has the glyphs of some text that must be drawn (Chinese labels or names)."""


@dataclass(frozen=True)
class CjkFont:
    """A font file with Chinese glyphs.

    Parameters
    ----------
    path : Path
        The font file.
    index : int
        The face inside a collection (.ttc); 0 for single fonts.
    family : str
        Family name of that face (as matplotlib and CSS know it).
    """

    path: Path
    index: int
    family: str


def find_cjk_font() -> CjkFont | None:
    """The best installed font with Chinese glyphs, or None.

    Returns
    -------
    CjkFont or None
        The first usable candidate from the environment variable, fontconfig
        and the known font folders (see the module docstring).
    """
    return _find_cjk_font()


@functools.cache
def _find_cjk_font() -> CjkFont | None:
    env = os.environ.get(FONT_ENV)
    if env:
        font = _usable(Path(env), None)
        if font is None:
            raise FontMissingError(f"{FONT_ENV}={env}: not a font file with Chinese glyphs")
        return font
    # fontconfig's own choice first, then every face it lists by our preference; cmaps are read lazily.
    candidates = _fontconfig_candidates()
    for path, index, _, _ in sorted(candidates, key=lambda c: (0 if c[2] == 0 else 1 + _rank(c[3]), c[2])):
        if (font := _usable(path, index)) is not None:
            return font
    for path in _folder_candidates():
        if (font := _usable(path, None)) is not None:
            return font
    return None


def register_cjk_font() -> CjkFont | None:
    """Find a CJK font and register its file with matplotlib (once); None when there is none.

    Returns
    -------
    CjkFont or None
        With ``family`` set to the name matplotlib now resolves to that face.
    """
    return _register()


@functools.cache
def _register() -> CjkFont | None:
    from matplotlib import font_manager

    font = find_cjk_font()
    if font is None:
        return None
    entries = [e for e in font_manager.fontManager.ttflist if Path(e.fname) == font.path]
    if not entries:  # not in matplotlib's cache (installed after it was built, or outside its folders)
        font_manager.fontManager.addfont(str(font.path))
        entries = [e for e in font_manager.fontManager.ttflist if Path(e.fname) == font.path]
    face = [e for e in entries if getattr(e, "index", 0) == font.index] or entries
    return CjkFont(font.path, font.index, face[0].name)


def reset_font_cache() -> None:
    """Forget the font found so far (after installing a font or changing ``COVERAGE_CJK_FONT``).

    A font already registered with matplotlib stays registered.
    """
    _find_cjk_font.cache_clear()
    _register.cache_clear()


def chart_families(lang: str, texts: Iterable[str] = ()) -> list[str]:
    """Font families (matplotlib's) for a chart in ``lang`` drawing ``texts``, checked to have every glyph.

    Parameters
    ----------
    lang : {"zh", "en"}
        Chinese charts use the CJK font for everything; English ones use
        DejaVu Sans with the CJK font as fallback (for Chinese place names).
    texts : iterable of str
        Every string the chart will draw.

    Returns
    -------
    list of str
        For ``rcParams["font.family"]``.

    Raises
    ------
    FontMissingError
        When some character is in none of the fonts (e.g. Chinese text and no CJK font).
    """
    texts = list(texts)
    font = register_cjk_font() if lang == "zh" or any(not str(t).isascii() for t in texts) else None
    if lang == "zh" and font is None:
        raise FontMissingError(f"Chinese charts need a font with Chinese glyphs and none was found; {INSTALL_HINT}")
    families = [font.family] if lang == "zh" and font else ["DejaVu Sans"] + ([font.family] if font else [])
    require_glyphs(texts, families)
    return families


def require_glyphs(texts: Iterable[str], families: list[str]) -> None:
    """Raise `FontMissingError` unless every character of ``texts`` is in one of ``families``.

    Parameters
    ----------
    texts : iterable of str
        What will be drawn.
    families : list of str
        Matplotlib font families tried in order (per glyph).

    Raises
    ------
    FontMissingError
        Naming the missing characters and how to get a font that has them.
    """
    from matplotlib import font_manager

    cmaps = []
    for family in families:
        try:
            found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        cmaps.append(font_cmap(Path(found), getattr(found, "face_index", 0)))
    drawn = {ch for text in texts for ch in str(text) if ch.isprintable() and not ch.isspace()}
    # Each character looked up in the maps: a union of 45k code points as characters took 15 ms a chart.
    missing = sorted(ch for ch in drawn if not any(ord(ch) in cmap for cmap in cmaps))
    if missing:
        shown = "".join(missing[:20]) + (" …" if len(missing) > 20 else "")
        han = any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in missing)
        hint = INSTALL_HINT if han else "install a font that has them (e.g. one of the Noto fonts for that script)"
        raise FontMissingError(
            f"no installed font ({', '.join(families)}) has the characters {shown!r}, so they would be drawn "
            f"as empty boxes; {hint}"
        )


def css_families(lang: str) -> str:
    """A CSS ``font-family`` list: the CJK font found here first, then the usual Chinese fonts of each system.

    Parameters
    ----------
    lang : {"zh", "en"}

    Returns
    -------
    str
        Quoted family names, ending in ``sans-serif``.
    """
    font = find_cjk_font()
    common = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "SimHei"]
    names = ([font.family] if font else []) + [n for n in common if not font or n != font.family]
    if lang == "en":
        names = ["DejaVu Sans", "Arial", *names]
    return ", ".join(f'"{n}"' for n in names) + ", sans-serif"


def font_cmap(path: Path, index: int = 0) -> frozenset[int]:
    """The code points a font face has glyphs for.

    Parameters
    ----------
    path : Path
        A .ttf, .otf or .ttc file.
    index : int
        Face of a collection.

    Returns
    -------
    frozenset of int
        Empty when the file cannot be read as a font.
    """
    return _cmap(str(path), int(index))


@functools.cache
def _cmap(path: str, index: int) -> frozenset[int]:
    # FreeType (matplotlib's, loaded by whatever draws) reads a CJK face's 45k-entry map in 10 ms; fontTools
    # names every glyph first and took 0.13-0.3 s, in each process that draws or writes the report.
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path, face_index=index).get_charmap())
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a usable font
        return frozenset()


def _usable(path: Path, index: int | None) -> CjkFont | None:
    """The best face of ``path`` holding the probe characters (or face ``index`` when given)."""
    if not path.is_file():
        return None
    faces = [index] if index is not None else range(_face_count(path))
    good = []
    for face in faces:
        cmap = font_cmap(path, face)
        if cmap and all(ord(ch) in cmap for ch in PROBE):
            good.append(CjkFont(path.resolve(), face, _family(path, face)))
    return min(good, key=lambda f: _rank(f.family)) if good else None


def _face_count(path: Path) -> int:
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 1
    from matplotlib.ft2font import FT2Font

    try:
        return int(FT2Font(str(path)).num_faces)
    except Exception:  # noqa: BLE001 - not a readable collection
        return 0


def _family(path: Path, index: int) -> str:
    """The family name matplotlib gives this face (what ``font.family`` must say to find it)."""
    # matplotlib's own reading of the name table, with the FreeType it draws with: fontTools gave the same
    # names but its import alone took 0.3-0.4 s in every process that draws or writes the report.
    from matplotlib.font_manager import ttfFontProperty
    from matplotlib.ft2font import FT2Font

    try:
        return ttfFontProperty(FT2Font(str(path), face_index=index)).name
    except Exception:  # noqa: BLE001 - an unreadable name table: the file's name stands in
        return path.stem


def _rank(family: str) -> int:
    return _PREFERRED.index(family) if family in _PREFERRED else len(_PREFERRED)


def _fontconfig_candidates() -> list[tuple[Path, int, int, str]]:
    """(file, face, order, family) that fontconfig offers for Chinese; order 0 is its best match."""
    if shutil.which("fc-match") is None:
        return []
    out: list[tuple[Path, int, int, str]] = []
    commands = (
        ["fc-match", "-f", "%{file}|%{index}|%{family[0]}\n", "sans-serif:lang=zh-cn"],
        ["fc-list", ":lang=zh", "-f", "%{file}|%{index}|%{family[0]}\n"],
    )
    seen: set[tuple[Path, int]] = set()
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        for line in sorted(done.stdout.splitlines()):
            file, index, family = (line.split("|") + ["", ""])[:3]
            key = (Path(file), int(index)) if file and index.isdigit() else None
            if key is not None and key not in seen:
                seen.add(key)
                out.append((key[0], key[1], len(out), family))
    return out


def _folder_candidates() -> list[Path]:
    if sys.platform == "win32":
        folders = [Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"]
        if local := os.environ.get("LOCALAPPDATA"):
            folders.append(Path(local) / "Microsoft" / "Windows" / "Fonts")
        return [folder / name for name in _KNOWN_FILES["win32"] for folder in folders]
    known = _KNOWN_FILES["darwin" if sys.platform == "darwin" else "linux"]
    home = Path.home()
    return [Path(p) for p in known] + [home / "Library" / "Fonts" / Path(p).name for p in known]


__all__ = [
    "FONT_ENV",
    "INSTALL_HINT",
    "CjkFont",
    "FontMissingError",
    "chart_families",
    "css_families",
    "find_cjk_font",
    "font_cmap",
    "register_cjk_font",
    "require_glyphs",
    "reset_font_cache",
]
