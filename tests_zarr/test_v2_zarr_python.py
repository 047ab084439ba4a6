"""Zarr v2 interop with zarr-python 3 (`zarr_format=2`), both ways."""

import json

import numcodecs
import numpy as np
import pytest
import zarr

import zarrsync

CASES = [
    # dtype, shape, chunks, order, compressor (numcodecs), fill
    ("<f8", (10, 7), (4, 3), "C", None, 0.0),
    (">i2", (9, 5), (4, 2), "F", numcodecs.Zstd(level=1), -3),
    ("<f4", (5, 6, 3), (2, 6, 2), "F", numcodecs.GZip(level=1), np.nan),
    ("|u1", (8, 8), (8, 3), "C", numcodecs.Zstd(level=3), 7),
    ("<c16", (4,), (3,), "C", None, 1 - 2j),
    ("|b1", (6,), (4,), "C", numcodecs.GZip(level=5), True),
]


def data_for(dtype, shape):
    return (np.arange(int(np.prod(shape))) % 13 + 1).reshape(shape).astype(np.dtype(dtype))


def case_id(c):
    return f"{c[0]}-{len(c[1])}d-{c[3]}-{c[4].codec_id if c[4] else 'raw'}"


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_zarr_python_writes_zarrsync_reads(tmp_path, case, separator):
    dtype, shape, chunks, order, compressor, fill = case
    path = str(tmp_path / "a.zarr")
    z = zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2, order=order,
                          compressors=compressor, fill_value=fill, chunk_key_encoding={"name": "v2", "separator": separator})
    data = data_for(dtype, shape)
    region = tuple(slice(0, s - 1) for s in shape)  # the last chunks stay unwritten: fill
    z[region] = data[region]
    expected = z[...]
    a = zarrsync.open_array(path, mode="r")
    assert a.zarr_format == 2 and a.shape == shape and a.chunks == chunks
    np.testing.assert_array_equal(a[...], expected)


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_zarrsync_writes_zarr_python_reads(tmp_path, case, separator):
    dtype, shape, chunks, order, compressor, fill = case
    path = str(tmp_path / "a.zarr")
    a = zarrsync.create_array(path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2, order=order,
                              dimension_separator=separator, fill_value=fill,
                              compressors=None if compressor is None else compressor.get_config())
    data = data_for(dtype, shape)
    a[...] = data
    z = zarr.open_array(path, mode="r")
    assert z.metadata.zarr_format == 2
    np.testing.assert_array_equal(z[...], data)
    assert z.order == order if hasattr(z, "order") else True


def test_hierarchies_both_ways(tmp_path):
    p1 = str(tmp_path / "zp.zarr")
    root = zarr.open_group(p1, mode="w", zarr_format=2)
    root.attrs["title"] = "from zarr-python"
    sub = root.create_group("sub")
    arr = sub.create_array("x", shape=(4, 5), chunks=(2, 2), dtype="<i4", fill_value=0, compressors=numcodecs.Zstd(level=1))
    arr[...] = np.arange(20).reshape(4, 5)
    g = zarrsync.open_group(p1, mode="r")
    assert g.zarr_format == 2 and g.attrs["title"] == "from zarr-python"
    assert [n for n, _ in g.members(max_depth=None)] == ["sub", "sub/x"]
    np.testing.assert_array_equal(g["sub/x"][...], np.arange(20).reshape(4, 5))

    p2 = str(tmp_path / "zs.zarr")
    h = zarrsync.open_group(p2, mode="w", zarr_format=2, attributes={"title": "from zarrsync"})
    y = h.create_array("sub/y", shape=(3, 3), chunks=(2, 2), dtype="<f8", fill_value=np.nan)
    y[0] = [1, 2, 3]
    y.attrs["units"] = "m"
    zg = zarr.open_group(p2, mode="r")
    assert zg.metadata.zarr_format == 2 and zg.attrs["title"] == "from zarrsync"
    zy = zg["sub/y"]
    assert zy.attrs["units"] == "m"
    expected = np.full((3, 3), np.nan)
    expected[0] = [1, 2, 3]
    np.testing.assert_array_equal(zy[...], expected)
    assert json.load(open(f"{p2}/sub/y/.zarray"))["fill_value"] == "NaN"


FILTER_CASES = [
    ("<f8", [numcodecs.Delta(dtype="<f8")]),
    ("<f8", [numcodecs.FixedScaleOffset(offset=1000, scale=10, dtype="<f8", astype="<i4")]),
    ("<f4", [numcodecs.Quantize(digits=2, dtype="<f4")]),
    ("<f8", [numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8")]),
    ("<i4", [numcodecs.Delta(dtype="<i4", astype="<i2"), numcodecs.Shuffle(elementsize=2)]),
]


@pytest.mark.parametrize("dtype, filters", FILTER_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("order", ["C", "F"])
def test_v2_filters_and_blosc_both_ways(tmp_path, dtype, filters, order):
    data = (np.arange(12 * 7) % 50).reshape(12, 7).astype(dtype)
    p1 = str(tmp_path / "zp.zarr")
    z = zarr.create_array(store=p1, shape=data.shape, chunks=(5, 3), dtype=dtype, zarr_format=2, order=order,
                          filters=filters, compressors=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=2))
    z[...] = data
    assert json.load(open(f"{p1}/.zarray"))["compressor"]["id"] == "blosc"
    np.testing.assert_array_equal(zarrsync.open_array(p1, mode="r")[...], z[...])
    p2 = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(p2, shape=data.shape, chunks=(5, 3), dtype=dtype, zarr_format=2, order=order,
                              filters=filters, compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1))
    a[...] = data
    np.testing.assert_array_equal(zarr.open_array(p2, mode="r")[...], a[...])
    np.testing.assert_array_equal(a[...], z[...])


@pytest.mark.parametrize("codecs", [
    dict(filters=[numcodecs.Delta(dtype="<f8")], compressors=[numcodecs.Zlib(level=3), numcodecs.CRC32()]),
    dict(filters=None, compressors=[numcodecs.LZ4()]),
    dict(filters=None, compressors=[numcodecs.BZ2(level=1), numcodecs.Adler32()]),
])
def test_v3_numcodecs_names_both_ways(tmp_path, codecs):
    from zarr.codecs import numcodecs as zn  # zarr-python's numcodecs.* v3 wrappers

    def zp(c):
        return getattr(zn, type(c).__name__)(**{k: v for k, v in c.get_config().items() if k != "id"})

    data = np.arange(60.0).reshape(6, 10)
    p1 = str(tmp_path / "zp.zarr")
    z = zarr.create_array(store=p1, shape=data.shape, chunks=(4, 4), dtype="<f8",
                          filters=[zp(f) for f in codecs["filters"] or []], compressors=[zp(c) for c in codecs["compressors"]])
    z[...] = data
    names = [c["name"] for c in json.load(open(f"{p1}/zarr.json"))["codecs"]]
    assert all(n == "bytes" or n.startswith("numcodecs.") for n in names)
    np.testing.assert_array_equal(zarrsync.open_array(p1, mode="r")[...], data)
    p2 = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(p2, shape=data.shape, chunks=(4, 4), dtype="<f8", **codecs)
    a[...] = data
    assert [c["name"] for c in json.load(open(f"{p2}/zarr.json"))["codecs"]] == names
    np.testing.assert_array_equal(zarr.open_array(p2, mode="r")[...], data)


@pytest.mark.parametrize("fmt", [2, 3])
def test_consolidated_metadata_both_ways(tmp_path, fmt):
    p1 = str(tmp_path / "zp.zarr")
    root = zarr.open_group(p1, mode="w", zarr_format=fmt)
    root.attrs["title"] = "zp"
    root.create_group("sub").create_array("x", shape=(3,), dtype="<i4", compressors=None).attrs["u"] = 1
    zarr.consolidate_metadata(p1)
    g = zarrsync.open_consolidated(p1)
    assert [n for n, _ in g.members(max_depth=None)] == ["sub", "sub/x"]
    assert g["sub/x"].attrs["u"] == 1 and g.attrs["title"] == "zp"

    p2 = str(tmp_path / "zs.zarr")
    h = zarrsync.open_group(p2, mode="w", zarr_format=fmt, attributes={"title": "zs"})
    h.create_group("sub").create_array("y", shape=(2, 2), dtype="<f8", compressors=None, attributes={"v": 2})
    zarrsync.consolidate_metadata(p2)
    zg = zarr.open_consolidated(p2, zarr_format=fmt)
    assert sorted(k for k, _ in zg.members(max_depth=None)) == ["sub", "sub/y"]
    assert zg["sub/y"].attrs["v"] == 2 and zg.attrs["title"] == "zs"


ALL_COMPRESSORS = [numcodecs.Zlib(level=3), numcodecs.GZip(level=2), numcodecs.BZ2(level=1), numcodecs.LZMA(),
                   numcodecs.Zstd(level=2), numcodecs.LZ4(), numcodecs.Blosc(cname="lz4hc", clevel=3, shuffle=2),
                   numcodecs.Blosc(cname="zlib", clevel=1, shuffle=0)]


@pytest.mark.parametrize("compressor", ALL_COMPRESSORS, ids=lambda c: repr(c))
@pytest.mark.parametrize("order, separator", [("C", "."), ("F", "/")])
def test_every_compressor_both_ways(tmp_path, compressor, order, separator):
    data = (np.arange(17 * 9, dtype="<f8") / 3).reshape(17, 9)
    p1 = str(tmp_path / "zp.zarr")
    z = zarr.create_array(store=p1, shape=data.shape, chunks=(5, 4), dtype="<f8", zarr_format=2, order=order,
                          compressors=compressor, chunk_key_encoding={"name": "v2", "separator": separator})
    z[...] = data
    np.testing.assert_array_equal(zarrsync.open_array(p1, mode="r")[...], data)
    p2 = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(p2, shape=data.shape, chunks=(5, 4), dtype="<f8", zarr_format=2, order=order,
                              dimension_separator=separator, compressors=compressor)
    a[...] = data
    np.testing.assert_array_equal(zarr.open_array(p2, mode="r")[...], data)


@pytest.mark.parametrize("dtype, filters", [
    ("<f4", [numcodecs.BitRound(keepbits=6)]),
    ("|b1", [numcodecs.PackBits()]),
], ids=["bitround", "packbits"])
def test_bitround_and_packbits_both_ways(tmp_path, dtype, filters):
    data = (np.sin(np.arange(40)) > 0) if dtype == "|b1" else np.sin(np.arange(40, dtype="<f4")).astype("<f4")
    data = data.reshape(8, 5)
    p1 = str(tmp_path / "zp.zarr")
    z = zarr.create_array(store=p1, shape=data.shape, chunks=(3, 5), dtype=dtype, zarr_format=2, filters=filters,
                          compressors=None)
    z[...] = data
    np.testing.assert_array_equal(zarrsync.open_array(p1, mode="r")[...], z[...])
    p2 = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(p2, shape=data.shape, chunks=(3, 5), dtype=dtype, zarr_format=2, filters=filters,
                              compressors=None)
    a[...] = data
    np.testing.assert_array_equal(zarr.open_array(p2, mode="r")[...], z[...])


@pytest.mark.parametrize("dtype", ["<f4", "<i2", "|b1", "<M8[s]"])
def test_a_null_fill_value_as_zarr_python_stores_it(tmp_path, dtype):
    """v2 ``fill_value=None`` is ``null`` (xarray relies on it: a non-null v2 fill value is
    its ``_FillValue``), while no fill value at all is the type's zero; both read as zero."""
    for given in ({"fill_value": None}, {}):
        z = zarr.create_array(str(tmp_path / "z.zarr"), shape=(3,), dtype=dtype, zarr_format=2, overwrite=True, **given)
        s = zarrsync.create_array(str(tmp_path / "s.zarr"), shape=(3,), dtype=dtype, zarr_format=2, overwrite=True,
                                  **given)
        documents = [json.loads((tmp_path / f / ".zarray").read_text())["fill_value"] for f in ("z.zarr", "s.zarr")]
        assert documents[0] == documents[1], given
        assert (documents[0] is None) == ("fill_value" in given)
        np.testing.assert_array_equal(zarrsync.open_array(str(tmp_path / "z.zarr"))[...], z[...])
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s.zarr"))[...], s[...])
