"""Every cache entry is verified before it is trusted: damage or another version means a rebuild, said once.

Each case damages a real cache written by a real run (Beijing extract, real
places) and checks that the next run warns (`CacheWarning`) and gives exactly
the cold run's results, never a traceback and never a silently wrong walk.
"""

from __future__ import annotations

import json
import shutil
import struct
import warnings

import numpy as np
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner._cache import arrays
from coverage_planner._errors import CacheWarning
from coverage_planner.pipeline import run_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )


@pytest.fixture(scope="module")
def cold(scenario):
    return run_scenario(scenario, progress=False, use_cache=False).table()


def warmed(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("COVERAGE_PLANNER_CACHE", str(tmp_path / "cache"))
    run_scenario(scenario, progress=False)
    return tmp_path / "cache"


def rerun(scenario):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = run_scenario(scenario, progress=False).table()
    return table, [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


def flip_byte_in_data(path):
    raw = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", raw[len(arrays.MAGIC) : len(arrays.MAGIC) + 8])
    at = len(arrays.MAGIC) + 12 + size + (len(raw) - len(arrays.MAGIC) - 12 - size) // 2
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))


def edit_metadata(path):
    """Change one digit of the JSON header, keeping its length (so only the checksum can tell)."""
    raw = bytearray(path.read_bytes())
    start = len(arrays.MAGIC) + 12
    (size,) = struct.unpack("<Q", raw[len(arrays.MAGIC) : len(arrays.MAGIC) + 8])
    header = raw[start : start + size]
    at = next(i for i, b in enumerate(header) if chr(b).isdigit())
    header[at] = ord("9") if header[at] != ord("9") else ord("8")
    raw[start : start + size] = header
    path.write_bytes(bytes(raw))


def replace_by_directory(path):
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x", encoding="utf-8")


@pytest.mark.parametrize("kind", ["networks", "places", "snaps", "matrices"])
@pytest.mark.parametrize("damage", [flip_byte_in_data, edit_metadata, replace_by_directory])
def test_a_damaged_cache_entry_is_rebuilt_and_the_results_equal_a_cold_run(
    scenario, cold, tmp_path, monkeypatch, kind, damage
):
    cache = warmed(scenario, tmp_path, monkeypatch)
    entries = sorted((cache / kind).glob("*.arrays"))
    assert entries, f"no {kind} cache was written"
    for entry in entries:
        damage(entry)
    table, notes = rerun(scenario)
    assert table.equals(cold)
    assert len(notes) >= 1 and all(str(cache) in n for n in notes)
    if damage is not replace_by_directory:
        assert "rebuilt" in notes[0]
        _, again = rerun(scenario)  # the rebuilt entry is good again
        assert again == []


def test_a_cache_written_by_another_version_is_not_trusted(scenario, cold, tmp_path, monkeypatch):
    warmed(scenario, tmp_path, monkeypatch)
    monkeypatch.setattr(arrays, "package_version", lambda: "0.0.0-other")
    table, notes = rerun(scenario)
    assert table.equals(cold) and any("written by version" in n for n in notes)


def test_flipped_bytes_in_walk_rows_never_change_a_walk(scenario, cold, tmp_path, monkeypatch):
    # The failure this guards against: metres off by kilometres, exit 0. Damage every float of the rows.
    cache = warmed(scenario, tmp_path, monkeypatch)
    (entry,) = (cache / "matrices").glob("*.arrays")
    meta, data = arrays.read_arrays(entry)
    raw = bytearray(entry.read_bytes())
    metres = data["metres"]
    start = bytes(raw).find(metres.tobytes())
    assert start > 0
    raw[start : start + metres.nbytes] = (metres + 5000.0).tobytes()
    entry.write_bytes(bytes(raw))
    table, notes = rerun(scenario)
    assert np.allclose(table["walk_m"].to_numpy(float), cold["walk_m"].to_numpy(float), equal_nan=True)
    assert notes


def test_an_unwritable_cache_folder_costs_speed_not_the_run(scenario, cold, tmp_path, monkeypatch):
    monkeypatch.setenv("COVERAGE_PLANNER_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    for kind in ("networks", "places", "snaps", "matrices"):
        (tmp_path / "cache" / kind).write_text("a file where a folder should be", encoding="utf-8")
    table, notes = rerun(scenario)
    assert table.equals(cold) and notes


def test_array_files_record_their_writer_and_checksum(tmp_path):
    path = arrays.write_arrays(tmp_path / "x.arrays", {"a": np.arange(5)}, {"k": 1})
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[len(arrays.MAGIC) : len(arrays.MAGIC) + 8])
    header = json.loads(raw[len(arrays.MAGIC) + 12 : len(arrays.MAGIC) + 12 + size])
    assert header["writer"] == arrays.package_version()
    shutil.copy(path, tmp_path / "y.arrays")
    meta, data = arrays.read_arrays(tmp_path / "y.arrays")
    assert meta == {"k": 1} and list(data["a"]) == [0, 1, 2, 3, 4]
