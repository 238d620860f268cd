"""A Beijing scenario with everything a report shows: groups, a weight column and placeholders.

Sites and demand places are the real OSM features of the Beijing Haidian
extract (see `real_places`). For the report's tables the places get test
groups derived from their position (two 区 split at the median longitude,
four 街道 by quadrant, six 社区, three 社区类别; all named 测试/甲乙丙丁 so
they cannot be mistaken for real areas), a ``重点服务对象`` count derived
from the OSM id, and a few rows marked 占位 (placeholder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from real_places import beijing_place_frames

#: Demand rows (and the site row) marked 占位; chosen with readable, unique names.
PLACEHOLDER_PLACES = ("马锦明大楼（主楼）", "中国农业大学东区图书馆", "双泉嘉苑")
PLACEHOLDER_SITE = "中国建设银行"


def write_rich_beijing(folder: Path, osm_path: Path, *, threshold_min: float = 5, profile: str = "adult") -> Path:
    """Write sites.csv, demand.csv and scenario.toml (weight column 重点服务对象); return the TOML path."""
    sites, demand = beijing_place_frames(osm_path)
    lon, lat = demand["lon"], demand["lat"]
    west, south = lon < lon.median(), lat < lat.median()
    demand["区"] = np.where(west, "测试西区", "测试东区")
    demand["所属街道"] = np.where(west, np.where(south, "甲街道", "乙街道"), np.where(south, "丙街道", "丁街道"))
    third = pd.qcut(lon.rank(method="first"), 3, labels=False).astype(int)
    demand["所属社区"] = [f"第{2 * k + s + 1}社区" for k, s in zip(third, south.astype(int))]
    demand["社区类别"] = [str(1 + k) for k in third]
    demand["重点服务对象"] = (demand["id"].str[1:].astype("int64") % 7).astype(int)
    demand["状态"] = np.where(demand["name"].isin(PLACEHOLDER_PLACES), "占位", "真实")
    sites["状态"] = np.where(sites["name"] == PLACEHOLDER_SITE, "占位", "真实")
    assert demand["状态"].eq("占位").sum() == len(PLACEHOLDER_PLACES) and sites["状态"].eq("占位").sum() == 1
    folder.mkdir(parents=True, exist_ok=True)
    sites.to_csv(folder / "sites.csv", index=False)
    demand.to_csv(folder / "demand.csv", index=False)
    toml = folder / "scenario.toml"
    toml.write_text(
        f'name = "海淀测试"\n\n[network]\npath = "{osm_path.as_posix()}"\n\n[sites]\npath = "sites.csv"\n\n'
        '[demand]\npath = "demand.csv"\nweight_column = "重点服务对象"\n\n'
        f'[walk]\nthreshold_min = {threshold_min}\nprofile = "{profile}"\n',
        encoding="utf-8",
    )
    return toml
