"""The `zarrsync` command: the README's demo must run, check its data and report what it did."""

import json
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
