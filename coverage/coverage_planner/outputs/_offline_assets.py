"""Leaflet, jQuery and folium's other web assets, inlined from an installed package.

folium links its JavaScript and CSS from CDNs. For a page that opens on an
intranet with no internet, `inline_assets` swaps each link for the file's
text, taken from the ``folium-offline`` package (module ``offlinefolium``),
which ships the very files folium 0.20 references, keyed by their URL. Nothing
is downloaded at run time. Libraries the page does not use (Bootstrap, icon
fonts) are dropped rather than inlined: they are most of the weight.
"""

from __future__ import annotations

import functools
import re

from coverage_planner._errors import CoverageError

PACKAGE = "folium-offline"

_SCRIPT = re.compile(r'<script\b[^>]*?\bsrc="(?P<url>(?:https?:)?//[^"]+)"[^>]*>\s*</script>', re.IGNORECASE)
_LINK = re.compile(r'<link\b[^>]*?\bhref="(?P<url>(?:https?:)?//[^"]+)"[^>]*?/?>', re.IGNORECASE)
_CSS_IMPORT = re.compile(r'@import\s+(?:url\()?\s*["\']?(?:https?:)?//', re.IGNORECASE)
_CSS_URL = re.compile(r'url\(\s*["\']?(?:https?:)?//', re.IGNORECASE)
_VERSION = re.compile(r"@[^/]+|/\d+(?:\.\d+)+(?=/)")

# (part of the URL, pattern in the page's own code that shows the library is used, the literal texts one
# of which starts every match). First match wins, so the more specific names come first; None means always needed.
_USED_WHEN: list[tuple[str, str | None, tuple[str, ...]]] = [
    ("/leaflet@", None, ()),
    ("jquery", r"\$\(|\$\.|jQuery", ("$(", "$.", "jQuery")),
    ("awesome-markers", r"L\.AwesomeMarkers", ("L.AwesomeMarkers",)),
    ("leaflet.awesome.rotate", r"L\.AwesomeMarkers", ("L.AwesomeMarkers",)),
    ("glyphicons", r"glyphicon", ("glyphicon",)),
    ("fontawesome", r'"prefix":\s*"fa"|class="fa[srb]? ', ('"prefix":', 'class="fa')),
    ("bootstrap", r"data-bs-|bootstrap\.|class=\"btn", ("data-bs-", "bootstrap.", 'class="btn')),
]


class OfflineAssetError(CoverageError):
    """A web asset the map needs is not shipped by the installed folium-offline."""


def inline_assets(html: str) -> str:
    """Replace the page's CDN ``<script>`` and stylesheet links by inline copies.

    Parameters
    ----------
    html : str
        A rendered folium page.

    Returns
    -------
    str
        The page with every used script and stylesheet inlined, unused ones
        removed, and no ``<script src>`` or ``<link href>`` pointing at the web.

    Raises
    ------
    OfflineAssetError
        When a used asset is missing from the installed package, or a web
        reference is left that this function does not know how to inline.
    """
    own_code = _LINK.sub("", _SCRIPT.sub("", html))
    found: dict[str, bool] = {}  # pattern → seen in the page's own code (each page searched once per pattern)

    def replace(match: re.Match, tag: str) -> str:
        url = _absolute(match.group("url"))
        if tag == "style" and "stylesheet" not in match.group(0):
            return match.group(0)  # an icon or preconnect hint, not a stylesheet: checked below
        if not _used(url, own_code, found):
            return ""
        return _inline(url, tag, asset(url))

    html = _SCRIPT.sub(lambda m: replace(m, "script"), html)
    html = _LINK.sub(lambda m: replace(m, "style"), html)
    left = external_references(html)
    if left:
        raise OfflineAssetError(
            f"the offline map would still load {len(left)} file(s) from the web: {', '.join(left[:3])}"
        )
    return html


def external_references(html: str) -> list[str]:
    """Web addresses the page would load as scripts, stylesheets or CSS imports (tile URLs are not counted).

    Map tiles are requested by Leaflet at run time and simply stay blank
    offline, so they are not references in this sense.

    Parameters
    ----------
    html : str
        A page.

    Returns
    -------
    list of str
        The addresses (or the CSS text that imports one), in page order.
    """
    found = [m.group("url") for m in _SCRIPT.finditer(html)]
    found += [m.group("url") for m in _LINK.finditer(html) if "stylesheet" in m.group(0).lower()]
    found += [m.group(0) for m in _CSS_IMPORT.finditer(html)]
    for style in re.findall(r"<style\b[^>]*>(.*?)</style>", html, flags=re.DOTALL | re.IGNORECASE):
        found += [m.group(0) for m in _CSS_URL.finditer(style)]
    return found


def asset(url: str) -> str:
    """The text of the file folium links at ``url``, from the installed package.

    An exact URL is preferred; failing that, the same file of another
    version of the same library (folium and folium-offline release apart).

    Parameters
    ----------
    url : str
        An absolute ``https://`` address from a folium page.

    Returns
    -------
    str
        The file's text.

    Raises
    ------
    OfflineAssetError
        When the installed package does not ship the file, or is not installed.
    """
    shipped = _shipped()
    if url in shipped:
        return shipped[url]
    key = _unversioned(url)
    for candidate, text in shipped.items():
        if _unversioned(candidate) == key:
            return text
    raise OfflineAssetError(
        f"{PACKAGE} {_version()} does not ship {url}; install a {PACKAGE} release that matches "
        "folium's, or save the map with offline=False"
    )


def _used(url: str, own_code: str, found: dict[str, bool]) -> bool:
    for part, pattern, anchors in _USED_WHEN:
        if part in url:
            if pattern is None:
                return True
            if pattern not in found:
                # A match starts with one of its anchors: search from the first one, or not at all.
                starts = [at for at in (own_code.find(a) for a in anchors) if at >= 0]
                found[pattern] = bool(starts) and re.compile(pattern).search(own_code, min(starts)) is not None
            return found[pattern]
    return True  # a plugin's file: folium only links what was added to the map


@functools.lru_cache(maxsize=64)
def _inline(url: str, tag: str, text: str) -> str:
    """The asset ``text`` from ``url`` as an inline ``<script>`` or ``<style>`` element (composed once per process)."""
    # A literal closing tag inside the library would end the inline element early.
    text = re.sub(rf"</({tag})", r"<\\/\1", text, flags=re.IGNORECASE)
    return f"<{tag}>/* {url} (from {PACKAGE}) */\n{text}\n</{tag}>"


def _absolute(url: str) -> str:
    return "https:" + url if url.startswith("//") else url


def _unversioned(url: str) -> str:
    return _VERSION.sub("", url.split("://", 1)[-1])


@functools.cache
def _shipped() -> dict[str, str]:
    try:
        from offlinefolium.elements import _res  # URL → file text, as folium-offline embeds it
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise OfflineAssetError(f"offline maps need the {PACKAGE} package (pip install {PACKAGE})") from exc
    return dict(_res)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # pragma: no cover
        return "(not installed)"


__all__ = ["OfflineAssetError", "asset", "external_references", "inline_assets"]
