"""The `zarrsync` command: the README's demo must run, check its data and report what it did."""

import json
import math
import subprocess
import sys

import numpy as np

import zarrsync
from zarrsync.cli import main


def test_demo_writes_reads_and_checks(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--size", "96"]) == 0
    out = capsys.readouterr().out
    assert "every element read back equals what was written: OK" in out
    assert "MB/s" in out
    assert "10000 points (vindex) and 24 unsorted rows (oindex)" in out
    a = zarrsync.open_array(str(tmp_path / "demo.zarr"), mode="r")
    assert a.shape == (96, 96, 96) and a.dtype == np.uint16
    assert a.attrs["made_by"] == "zarrsync demo"
    doc = json.loads((tmp_path / "demo.zarr" / "zarr.json").read_text())
    assert [c["name"] for c in doc["codecs"]] == ["bytes", "zstd"]
    assert a.nchunks_initialized() == a.nchunks


def test_info_and_tree(tmp_path, capsys):
    g = zarrsync.open_group(str(tmp_path / "h.zarr"), mode="w")
    g.create_array("sub/x", shape=(3, 4), dtype="f4", chunks=(2, 2))
    assert main(["tree", str(tmp_path / "h.zarr")]) == 0
    tree = capsys.readouterr().out
    assert "sub/" in tree and "x (3, 4) float32" in tree
    assert main(["info", str(tmp_path / "h.zarr/sub/x")]) == 0
    assert "Shape" in capsys.readouterr().out


def test_module_entry_point_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "zarrsync", "demo", str(tmp_path), "--size", "64"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


# --- the click commands ------------------------------------------------------------------------------

import pathlib  # noqa: E402

import pytest  # noqa: E402

click_testing = pytest.importorskip("click.testing")  # the cli extra; the test extras install it

from zarrsync import cli_commands, cli_copy  # noqa: E402
from zarrsync.cli_copy import copy_array_data  # noqa: E402
from zarrsync.convenience import plan_block  # noqa: E402

REPO = pathlib.Path(zarrsync.__file__).resolve().parents[1]


def run_cli(*args):
    return click_testing.CliRunner().invoke(cli_commands.cli, [str(a) for a in args])


@pytest.fixture
def hierarchy(tmp_path):
    """A v2 group with consolidated metadata: a 2-D int array (F order, big-endian) in a subgroup
    and a 1-D text array; returns (path, the 2-D data)."""
    path = tmp_path / "src.zarr"
    g = zarrsync.open_group(str(path), mode="w", zarr_format=2, attributes={"title": "survey"})
    data = np.arange(50 * 40, dtype=np.int32).reshape(50, 40)
    x = g.create_array("sub/x", shape=data.shape, dtype=">i4", chunks=(7, 9), order="F",
                       attributes={"_ARRAY_DIMENSIONS": ["y", "x"], "units": "m"})
    x[...] = data
    g["sub"].attrs["level"] = 1
    s = g.create_array("s", shape=(5,), dtype=str, chunks=(2,))
    s[...] = np.array(["a", "bb", "", "ccc", "d"], dtype=object)
    zarrsync.consolidate_metadata(str(path))
    return path, data


def test_info_of_an_array_text_and_json(hierarchy):
    path, data = hierarchy
    r = run_cli("info", path / "sub" / "x")
    assert r.exit_code == 0, r.output
    assert "Chunks initialized : 40" in r.stdout and "Shape" in r.stdout
    r = run_cli("info", path / "sub" / "x", "--json")
    doc = json.loads(r.stdout)
    assert doc["node_type"] == "array" and doc["zarr_format"] == 2
    assert doc["metadata"]["dtype"] == ">i4" and doc["metadata"]["chunks"] == [7, 9]
    assert doc["attributes"]["units"] == "m"
    assert doc["nbytes"] == data.nbytes and doc["count_chunks_initialized"] == 40
    assert doc["count_bytes_stored"] == zarrsync.open_array(str(path / "sub" / "x")).nbytes_stored()


def test_info_of_a_group_text_and_json(hierarchy):
    path, _ = hierarchy
    r = run_cli("info", path)
    assert r.exit_code == 0, r.output
    assert "Members     : 2 (1 arrays, 1 groups)" in r.stdout and '{"title": "survey"}' in r.stdout
    doc = json.loads(run_cli("info", path, "--json").stdout)
    assert (doc["node_type"], doc["zarr_format"], doc["members"], doc["arrays"], doc["groups"]) == ("group", 2, 2, 1, 1)
    assert doc["attributes"] == {"title": "survey"} and doc["metadata"] == {"zarr_format": 2}


def test_tree_depth_and_ls(hierarchy):
    path, _ = hierarchy
    full = run_cli("tree", path).stdout
    assert "sub/" in full and "x (50, 40) int32" in full
    shallow = run_cli("tree", path, "--depth", "1").stdout
    assert "sub/" in shallow and "x (50, 40)" not in shallow
    lines = run_cli("ls", path).stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["s", "array"], ["sub/", "group"]]
    assert lines[0].split()[2:] == ["(5,)", "StringDType()", "chunks=(2,)"]
    assert run_cli("ls", path / "sub").stdout.split() == ["x", "array", "(50,", "40)", "int32", "chunks=(7,", "9)"]


def test_copy_array_rechunks_recompresses_and_shards(tmp_path):
    src = zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(130, 70), dtype="f8", chunks=(10, 10),
                                fill_value=-1.0, attributes={"k": [1, 2]}, dimension_names=["t", "x"])
    data = np.random.default_rng(1).random((130, 70))
    src[...] = data
    r = run_cli("copy", tmp_path / "a.zarr", tmp_path / "b.zarr", "--chunks", "16,8", "--shards", "64,32",
                "--compressor", "gzip:5")
    assert r.exit_code == 0, r.output
    assert "copied 1 array(s)" in r.stdout
    dst = zarrsync.open_array(str(tmp_path / "b.zarr"), mode="r")
    np.testing.assert_array_equal(dst[...], data)
    assert (dst.chunks, dst.shards, dst.fill_value) == ((16, 8), (64, 32), -1.0)
    assert dst.attrs.asdict() == {"k": [1, 2]} and dst.dimension_names == ("t", "x")
    doc = json.loads((tmp_path / "b.zarr" / "zarr.json").read_text())
    (sharding,) = doc["codecs"]
    assert sharding["name"] == "sharding_indexed"
    assert [c["name"] for c in sharding["configuration"]["codecs"]] == ["bytes", "gzip"]
    assert sharding["configuration"]["codecs"][1]["configuration"] == {"level": 5}
    assert dst.nchunks_initialized() == 3 * 3  # whole shards, each written once


def test_copy_v2_group_to_v3(hierarchy, tmp_path):
    path, data = hierarchy
    r = run_cli("copy", path, tmp_path / "v3.zarr", "--zarr-format", "3", "--compressor", "blosc:lz4:5", "-q")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # --quiet
    g = zarrsync.open_group(str(tmp_path / "v3.zarr"), mode="r")
    assert g.zarr_format == 3 and g.attrs.asdict() == {"title": "survey"}
    assert g["sub"].attrs.asdict() == {"level": 1}
    x = g["sub/x"]
    np.testing.assert_array_equal(x[...], data)
    # attributes are kept as they are: _ARRAY_DIMENSIONS stays an attribute, not dimension_names
    assert x.attrs.asdict() == {"_ARRAY_DIMENSIONS": ["y", "x"], "units": "m"} and x.dimension_names is None
    assert x.chunks == (7, 9) and [c.name for c in x.compressors] == ["blosc"]
    assert g["s"][...].tolist() == ["a", "bb", "", "ccc", "d"]
    doc = json.loads((tmp_path / "v3.zarr" / "zarr.json").read_text())  # the source had consolidated metadata
    assert sorted(doc["consolidated_metadata"]["metadata"]) == ["s", "sub", "sub/x"]
    # --chunks of another dimensionality leaves an array's own layout, and says so
    r = run_cli("copy", path, tmp_path / "v3b.zarr", "--chunks", "25,20", "-q")
    assert r.exit_code == 0, r.output
    assert "--chunks [25, 20] does not apply to /s (1 dimensions)" in r.stderr
    g = zarrsync.open_group(str(tmp_path / "v3b.zarr"), mode="r")
    assert (g.zarr_format, g["sub/x"].chunks, g["s"].chunks) == (2, (25, 20), (2,))
    np.testing.assert_array_equal(g["sub/x"][...], data)


def test_copy_resume_fills_in_missing_objects_only(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_copy, "BLOCK_BYTES", 20 * 20 * 2)  # one destination chunk per block
    src = zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(40, 40), dtype="u2", chunks=(10, 10))
    data = np.arange(1600, dtype=np.uint16).reshape(40, 40)
    src[...] = data
    args = ["copy", tmp_path / "a.zarr", tmp_path / "b.zarr", "--chunks", "20,20"]
    assert run_cli(*args).exit_code == 0
    lost = tmp_path / "b.zarr" / "c" / "1" / "0"
    kept = tmp_path / "b.zarr" / "c" / "0" / "0"
    lost.unlink()
    kept_mtime = kept.stat().st_mtime_ns
    r = run_cli(*args, "--resume")
    assert r.exit_code == 0, r.output
    assert lost.exists() and kept.stat().st_mtime_ns == kept_mtime  # only the missing block was copied
    np.testing.assert_array_equal(zarrsync.open_array(str(tmp_path / "b.zarr"))[...], data)
    r = run_cli("copy", tmp_path / "a.zarr", tmp_path / "b.zarr", "--chunks", "8,8", "--resume")
    assert r.exit_code == 1 and "cannot resume" in r.stderr


def test_block_plan_is_aligned_and_bounded():
    # the least common multiple of the two object shapes where it fits, then whole units
    assert plan_block((1000, 1000), 1, (100, 100), (64, 64), budget=200_000) == (200, 1000)
    assert plan_block((1000, 1000), 1, (100, 100), (50, 50), budget=10_000) == (100, 100)
    assert plan_block((1000, 1000), 8, (100, 100), (100, 100), budget=10**9) == (1000, 1000)
    # one destination object larger than the budget: exactly one object, never a part of one
    assert plan_block((1000, 1000), 8, (512, 512), (10, 10), budget=1 << 20) == (512, 512)
    assert plan_block((), 8, (), (), budget=1) == ()


def test_copy_memory_is_bounded_by_the_planned_block(tmp_path):
    src = zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(300, 200), dtype="i4", chunks=(30, 25))
    data = np.arange(60_000, dtype=np.int32).reshape(300, 200)
    src[...] = data
    dst = zarrsync.create_array(str(tmp_path / "b.zarr"), shape=src.shape, dtype="i4", chunks=(20, 50))
    budget = 40_000
    seen = []
    block = copy_array_data(src, dst, budget=budget, in_flight=2, done=seen.append)
    assert math.prod(block) * 4 <= budget
    assert all(b % c == 0 or b == n for b, c, n in zip(block, (20, 50), src.shape))
    assert max(seen) <= budget and sum(seen) == data.nbytes
    np.testing.assert_array_equal(dst[...], data)


def test_errors_exit_codes_and_messages(tmp_path, hierarchy):
    path, _ = hierarchy
    r = run_cli("info", tmp_path / "missing.zarr")
    assert r.exit_code == 1 and r.stderr.startswith("zarrsync: error: no array or group at '/'")
    r = run_cli("copy", path, tmp_path / "d.zarr", "--compressor", "zstd:99")
    assert r.exit_code == 2 and "level must be an integer" in r.stderr
    r = run_cli("copy", path, tmp_path / "d.zarr", "--compressor", "lzma:1")
    assert r.exit_code == 2 and "expected zstd:LEVEL" in r.stderr
    r = run_cli("copy", path, tmp_path / "d.zarr", "--chunks", "4,x")
    assert r.exit_code == 2 and "not a comma-separated list of integers" in r.stderr
    r = run_cli("copy", path / "sub" / "x", tmp_path / "d.zarr", "--chunks", "4,4", "--shards", "6,6",
                "--zarr-format", "3")
    assert r.exit_code == 1 and "zarrsync: error: shards [6, 6] must be positive multiples of chunks [4, 4]" in r.stderr
    r = run_cli("copy", path / "sub" / "x", tmp_path / "d.zarr", "--shards", "14,18", "--zarr-format", "2")
    assert r.exit_code == 1 and "shards are a Zarr v3 feature" in r.stderr
    assert run_cli("copy", path, path).exit_code == 1  # the destination exists
    r = run_cli("copy", path, tmp_path / "d.zarr", "--overwrite", "--resume")
    assert r.exit_code == 2 and "exclude each other" in r.stderr
    r = run_cli("info", path, "--storage-option", "novalue")
    assert r.exit_code == 2 and "is not KEY=VALUE" in r.stderr
    r = run_cli("info", path, "--storage-option", "anon=true")  # options are for URLs, not local paths
    assert r.exit_code == 1 and "zarrsync: error: storage_options apply to remote URLs" in r.stderr


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(64, 64), dtype="u1", chunks=(8, 8))[...] = 7
    r = run_cli("copy", tmp_path / "a.zarr", tmp_path / "b.zarr")  # CliRunner's stdout is no TTY
    assert r.exit_code == 0 and r.stderr == ""
    monkeypatch.setattr(cli_commands, "_is_terminal", lambda stream: True)
    r = run_cli("copy", tmp_path / "a.zarr", tmp_path / "c.zarr")
    assert r.exit_code == 0 and "copy: 100%" in r.stderr
    r = run_cli("copy", tmp_path / "a.zarr", tmp_path / "d.zarr", "--quiet")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""


def test_without_click_main_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "click", None)  # import click now raises ImportError
    assert main(["ls", "."]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "zarrsync[cli]"' in err


def test_main_returns_exit_codes(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.zarr")]) == 1
    assert capsys.readouterr().err.startswith("zarrsync: error: ")
    assert main(["copy", "a"]) == 2
    assert main(["--help"]) == 0


def test_installed_command_copies_and_fails_cleanly(hierarchy, tmp_path):
    path, data = hierarchy
    def zarrsync_cmd(*args):
        return subprocess.run([sys.executable, "-m", "zarrsync", *map(str, args)], capture_output=True, text=True,
                              timeout=120, cwd=REPO)
    r = zarrsync_cmd("copy", path / "sub" / "x", tmp_path / "y.zarr", "--zarr-format", "3", "--compressor", "none")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # stdout is a pipe: no progress bar
    y = zarrsync.open_array(str(tmp_path / "y.zarr"), mode="r")
    np.testing.assert_array_equal(y[...], data)
    assert y.compressors == ()
    r = zarrsync_cmd("info", tmp_path / "y.zarr", "--json")
    assert json.loads(r.stdout)["metadata"]["node_type"] == "array"
    r = zarrsync_cmd("ls", tmp_path / "nothing.zarr")
    assert r.returncode == 1 and r.stderr.startswith("zarrsync: error: ") and "Traceback" not in r.stderr


def test_the_console_script_runs(hierarchy):
    """The `zarrsync` command that pip installed next to this interpreter (the package's entry point)."""
    import os
    import shutil

    script = shutil.which("zarrsync", path=os.path.dirname(sys.executable))
    assert script is not None, "the zarrsync console script is not installed next to " + sys.executable
    path, _ = hierarchy
    r = subprocess.run([script, "ls", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "sub/" in r.stdout
    r = subprocess.run([script, "info", str(path / "missing.zarr")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("zarrsync: error: ")
