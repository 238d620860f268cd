"""Rules of a compound ledger (小区台账): the four compound types and unique names per community.

光明路街道 sorts its residential compounds into four types; a ledger may
spell them loosely ("商品房", "老旧"), so each spelling maps to one type, and
anything else is an error naming the row. Two compounds with one name in
the same community are almost always a copy-paste slip.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from coverage_planner._errors import InputError, InputErrors

#: The four compound types and the spellings accepted for each.
COMPOUND_TYPES: dict[str, tuple[str, ...]] = {
    "新建商品房小区": ("新建商品房小区", "新建商品房", "商品房小区", "商品房", "新建小区", "new commercial"),
    "老旧小区": ("老旧小区", "老旧", "老小区", "old"),
    "拆迁安置小区": ("拆迁安置小区", "拆迁安置", "安置小区", "回迁小区", "resettlement"),
    "单位家属院": ("单位家属院", "家属院", "单位院", "work-unit housing", "work unit"),
}
#: Non-compound demand places a ledger may also list.
OTHER_PLACE_TYPES: dict[str, tuple[str, ...]] = {"社区": ("社区", "community")}

_LOOKUP = {
    alias.casefold(): canonical
    for table in (COMPOUND_TYPES, OTHER_PLACE_TYPES)
    for canonical, aliases in table.items()
    for alias in aliases
}


def normalise_compound_types(places: gpd.GeoDataFrame, path: str | Path) -> gpd.GeoDataFrame:
    """Map each row's ``type`` onto the four compound types (or 社区); unknown values are errors.

    Blank types stay blank (a ledger may not know every compound's type yet).

    Parameters
    ----------
    places : GeoDataFrame
        Places read from a ledger, with ``source_row`` and ``type`` columns.
    path : str or Path
        The ledger file, named in errors.

    Returns
    -------
    GeoDataFrame
        A copy with each ``type`` spelled canonically.

    Raises
    ------
    InputErrors
        Naming every row whose type is unknown.
    """
    errors = []
    mapped = []
    for row, value in zip(places["source_row"], places["type"]):
        if value is None:
            mapped.append(None)
            continue
        canonical = _LOOKUP.get(str(value).strip().casefold())
        if canonical is None:
            errors.append(
                InputError(
                    path,
                    f"unknown compound type {value!r}; use one of {', '.join([*COMPOUND_TYPES, *OTHER_PLACE_TYPES])}",
                    row=int(row),
                    field="type",
                )
            )
        mapped.append(canonical)
    if errors:
        raise InputErrors(errors)
    out = places.copy()
    out["type"] = mapped
    return out


def check_unique_names_per_community(places: gpd.GeoDataFrame, path: str | Path) -> None:
    """Raise when two places share a name within one community.

    Parameters
    ----------
    places : GeoDataFrame
        Places with ``source_row`` and ``name`` columns; without a
        ``community`` column there is nothing to check.
    path : str or Path
        The ledger file, named in errors.

    Raises
    ------
    InputErrors
        Naming every repeated row and the row it repeats.
    """
    if "community" not in places:
        return
    seen: dict[tuple, int] = {}
    errors = []
    for row, name, community in zip(places["source_row"], places["name"], places["community"]):
        key = (community, name)
        if community is not None and key in seen:
            errors.append(
                InputError(
                    path, f"{name!r} appears twice in {community} (also row {seen[key]})", row=int(row), field="name"
                )
            )
        seen.setdefault(key, int(row))
    if errors:
        raise InputErrors(errors)


#: Columns of the compound ledger template, with what goes in each (for the 说明 sheet).
TEMPLATE_COLUMNS: dict[str, str] = {
    "名称": "小区或社区名称 (必填)",
    "地址": "门牌地址",
    "经度": "经度 (小区大门处最好)",
    "纬度": "纬度",
    "坐标系": "wgs84 (GPS/OpenStreetMap) / gcj02 (高德、腾讯地图) / bd09 (百度地图); 空白按 wgs84",
    "类型": "新建商品房小区 / 老旧小区 / 拆迁安置小区 / 单位家属院 / 社区",
    "户数": "户数 (数字)",
    "人口": "常住人口 (数字)",
    "重点服务对象": "重点服务对象人数 (独居老人、困难家庭等)",
    "所属社区": "所属社区",
    "所属街道": "所属街道",
    "社区类别": "创新型 / 发展型 / 强基型",
    "状态": "空白或'真实' = 位置真实; '占位' = 位置未核实",
}


def write_compound_template(path: str | Path) -> Path:
    """Write the empty compound ledger (小区台账) template: a header sheet and a 说明 sheet.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file to write (atomically).

    Returns
    -------
    Path
        ``path``.
    """
    import openpyxl
    from openpyxl.styles import Font

    from coverage_planner._io import atomic_path

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "小区台账"
    sheet.append(list(TEMPLATE_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    notes = book.create_sheet("说明")
    notes.append(["列", "填写说明"])
    for column, note in TEMPLATE_COLUMNS.items():
        notes.append([column, note])
    path = Path(path)
    with atomic_path(path) as tmp:
        book.save(tmp)
    return path
