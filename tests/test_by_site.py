"""`CoverageResult.by_site`: whom each site serves, checked against NetworkX walks on the same graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from reference import networkx_walk_distances
from report_scenario import write_rich_beijing

from coverage_planner import run_scenario


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_rich_beijing(tmp_path_factory.mktemp("rich"), raw_file("beijing_haidian_cau_map.osm"))
    return run_scenario(toml)


@pytest.fixture(scope="module")
def walks(result):
    """Dense site × place walk metres from NetworkX, limited like the run (pairs beyond the search limit unknown)."""
    dense = networkx_walk_distances(
        result.network, result.site_snap, result.demand_snap, include_access_legs=result.matrix.include_access_legs
    )
    dense[dense > result.matrix.cutoff_m + 1e-6] = np.inf
    return dense


def test_counts_per_site_match_networkx(result, walks):
    table = result.by_site()
    mpm = result.metres_per_minute
    assert list(table["site_id"]) == list(result.sites["id"])
    within = walks <= result.threshold_m + 1e-6
    np.testing.assert_array_equal(table["covered_places"], within.sum(axis=1))
    np.testing.assert_array_equal(table["within_5_min"], (walks <= 5 * mpm + 1e-6).sum(axis=1))
    np.testing.assert_array_equal(table["within_10_min"], (walks <= 10 * mpm + 1e-6).sum(axis=1))
    assert table["within_15_min"].isna().all()  # 15 minutes lies beyond the run's 10-minute search limit
    several = within.sum(axis=0) >= 2
    np.testing.assert_array_equal(table["shared_places"], (within & several).sum(axis=1))
    np.testing.assert_array_equal(table["sole_places"], (within & ~several).sum(axis=1))


def test_each_place_is_served_by_its_nearest_site_only(result, walks):
    table = result.by_site()
    reachable = np.isfinite(walks).any(axis=0)
    nearest = np.where(reachable, np.argmin(walks, axis=0), -1)
    served = reachable & (walks.min(axis=0, initial=np.inf) <= result.threshold_m + 1e-6)
    weights = result.demand["weight"].to_numpy(float)
    for k in range(len(result.sites)):
        assert table["nearest_places"].iloc[k] == int((nearest == k).sum())
        mine = served & (nearest == k)
        assert table["served_places"].iloc[k] == int(mine.sum())
        assert table["served_weight"].iloc[k] == pytest.approx(weights[mine].sum())
        if mine.any():
            assert table["served_max_walk_min"].iloc[k] == pytest.approx(
                walks[k, mine].max() / result.metres_per_minute, abs=0.01
            )
    assert table["served_places"].sum() == int(result.demand["covered"].sum())
    assert table["served_weight"].sum() == pytest.approx(weights[result.demand["covered"].to_numpy(bool)].sum())


def test_pairs_list_every_site_and_place_within_the_threshold(result, walks):
    pairs = result.by_site(pairs=True)
    sites = pd.Index(result.sites["id"]).get_indexer(pairs["site_id"])
    places = pd.Index(result.demand["demand_id"]).get_indexer(pairs["demand_id"])
    expected = set(zip(*np.nonzero(walks <= result.threshold_m + 1e-6)))
    assert set(zip(sites, places)) == expected and len(pairs) == len(expected)
    np.testing.assert_allclose(pairs["walk_min"], walks[sites, places] / result.metres_per_minute, atol=0.01)
    counts = (walks <= result.threshold_m + 1e-6).sum(axis=0)
    np.testing.assert_array_equal(pairs["sites_covering"], counts[places])
    nearest = result.demand.set_index("demand_id")["nearest_site_id"]
    np.testing.assert_array_equal(pairs["nearest"], nearest.reindex(pairs["demand_id"]).to_numpy() == pairs["site_id"])
    assert (pairs.groupby("site_id", sort=False)["walk_min"].apply(lambda m: m.is_monotonic_increasing)).all()


def test_a_band_within_the_search_limit_is_counted(result, walks):
    table = result.by_site(bands_min=(2.5, 7.5))
    mpm = result.metres_per_minute
    np.testing.assert_array_equal(table["within_2.5_min"], (walks <= 2.5 * mpm + 1e-6).sum(axis=1))
    np.testing.assert_array_equal(table["within_7.5_min"], (walks <= 7.5 * mpm + 1e-6).sum(axis=1))
