"""Real places from the Beijing Haidian OSM extract, written as place files for tests.

Sites are the extract's public-facing amenities (police, library, hospital …);
demand places are its buildings and residential areas (way centroids). All
are real OSM features with their OSM ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pandas as pd

SITE_AMENITIES = {"police", "library", "hospital", "social_centre", "bank", "pharmacy", "kindergarten", "marketplace"}


def beijing_place_frames(osm_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sites, demand) tables with id, name, lon, lat, type."""
    sites, demand = [], []
    for obj in osmium.FileProcessor(str(osm_path)).with_locations():
        tags = dict(obj.tags)
        if obj.is_node() and tags.get("amenity") in SITE_AMENITIES:
            sites.append(
                (
                    f"n{obj.id}",
                    tags.get("name", f"{tags['amenity']} n{obj.id}"),
                    obj.location.lon,
                    obj.location.lat,
                    tags["amenity"],
                )
            )
        elif obj.is_way() and ("building" in tags or tags.get("landuse") == "residential"):
            xy = np.array([(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()])
            if len(xy) >= 3:
                kind = "residential area" if tags.get("landuse") == "residential" else f"building={tags['building']}"
                demand.append((f"w{obj.id}", tags.get("name", f"way {obj.id}"), *xy[:-1].mean(axis=0), kind))
    columns = ["id", "name", "lon", "lat", "type"]
    return pd.DataFrame(sites, columns=columns), pd.DataFrame(demand, columns=columns)


def write_beijing_scenario(folder: Path, osm_path: Path, *, threshold_min: float = 10, extra_walk: str = "") -> Path:
    """Write sites.csv, demand.csv and scenario.toml for the Beijing extract; return the TOML path."""
    return _write_scenario(folder, "Beijing test", osm_path, *beijing_place_frames(osm_path), threshold_min, extra_walk)


def _write_scenario(
    folder: Path,
    name: str,
    osm_path: Path,
    sites: pd.DataFrame,
    demand: pd.DataFrame,
    threshold_min: float,
    extra_walk: str = "",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sites.to_csv(folder / "sites.csv", index=False)
    demand.to_csv(folder / "demand.csv", index=False)
    toml = folder / "scenario.toml"
    toml.write_text(
        f'name = "{name}"\n\n[network]\npath = "{osm_path.as_posix()}"\n\n'
        f'[sites]\npath = "sites.csv"\n\n[demand]\npath = "demand.csv"\n\n'
        f"[walk]\nthreshold_min = {threshold_min}\n{extra_walk}",
        encoding="utf-8",
    )
    return toml


def osm_place_frames(
    osm_path: Path, *, n_sites: int, n_demand: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real amenity nodes (sites) and building centroids (demand) of any extract, sampled reproducibly."""
    sites, demand = [], []
    for obj in osmium.FileProcessor(str(osm_path)).with_locations():
        tags = dict(obj.tags)
        if obj.is_node() and "amenity" in tags:
            sites.append(
                (
                    f"n{obj.id}",
                    tags.get("name", f"{tags['amenity']} n{obj.id}"),
                    obj.location.lon,
                    obj.location.lat,
                    tags["amenity"],
                )
            )
        elif obj.is_way() and "building" in tags:
            xy = np.array([(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()])
            if len(xy) >= 3:
                demand.append(
                    (
                        f"w{obj.id}",
                        tags.get("name", f"way {obj.id}"),
                        *xy[:-1].mean(axis=0),
                        f"building={tags['building']}",
                    )
                )
    rng = np.random.default_rng(seed)
    columns = ["id", "name", "lon", "lat", "type"]
    s = pd.DataFrame(sites, columns=columns)
    d = pd.DataFrame(demand, columns=columns)
    s = s.iloc[np.sort(rng.choice(len(s), min(n_sites, len(s)), replace=False))]
    d = d.iloc[np.sort(rng.choice(len(d), min(n_demand, len(d)), replace=False))]
    return s.reset_index(drop=True), d.reset_index(drop=True)


def write_osm_scenario(
    folder: Path, osm_path: Path, *, n_sites: int = 20, n_demand: int = 300, threshold_min: float = 10
) -> Path:
    """A scenario of real features of any extract (see `osm_place_frames`); returns the TOML path."""
    sites, demand = osm_place_frames(osm_path, n_sites=n_sites, n_demand=n_demand)
    return _write_scenario(folder, osm_path.stem, osm_path, sites, demand, threshold_min)
