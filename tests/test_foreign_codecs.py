"""Codecs zarrsync does not ship: a third-party numcodecs-style class and real numcodecs objects,
used as filters and compressors of v2 and v3 arrays."""

import subprocess
import sys

import numpy as np
import pytest

import zarrsync
from zarrsync.codecs import register_codec
from zarrsync.errors import CodecError


class XorBytes:
    """A third-party compressor in the numcodecs style (not a zarrsync class)."""

    codec_id = "test-xor"

    def __init__(self, key: int = 90):
        self.key = key

    def encode(self, buf):
        return (np.frombuffer(memoryview(buf).cast("B"), np.uint8) ^ self.key).tobytes()

    def decode(self, buf, out=None):
        data = (np.frombuffer(memoryview(buf).cast("B"), np.uint8) ^ self.key).tobytes()
        if out is not None:
            memoryview(out).cast("B")[:] = data
            return out
        return data

    def get_config(self):
        return {"id": self.codec_id, "key": self.key}

    @classmethod
    def from_config(cls, config):
        return cls(config.get("key", 90))


class PlusOne:
    """A third-party filter in the numcodecs style."""

    codec_id = "test-plus-one"

    def encode(self, buf):
        return np.asarray(buf) + 1

    def decode(self, buf, out=None):
        return np.asarray(buf) - 1

    def get_config(self):
        return {"id": self.codec_id}

    @classmethod
    def from_config(cls, config):
        return cls()


register_codec(XorBytes)
register_codec(PlusOne)
DATA = np.arange(7 * 6, dtype="<i4").reshape(7, 6)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_third_party_codecs_as_filter_and_compressor(zarr_format):
    store = zarrsync.MemoryStore()
    a = zarrsync.create_array(store, shape=DATA.shape, chunks=(3, 4), dtype="<i4", zarr_format=zarr_format,
                              filters=[PlusOne()], compressors=[XorBytes(7)])
    a[...] = DATA
    np.testing.assert_array_equal(zarrsync.open_array(store)[...], DATA)  # reopened from the stored configs
    key = "0.0" if zarr_format == 2 else "c/0/0"
    raw = np.frombuffer(store.get(key), np.uint8) ^ 7  # undo the compressor by hand: the filter's +1 shows
    np.testing.assert_array_equal(np.frombuffer(raw.tobytes(), "<i4").reshape(3, 4), DATA[:3, :4] + 1)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_real_numcodecs_objects(zarr_format):
    import numcodecs  # a test dependency (the oracle); zarrsync itself never imports it

    store = zarrsync.MemoryStore()
    data = DATA.astype("<f8") / 4
    a = zarrsync.create_array(store, shape=data.shape, chunks=(3, 4), dtype="<f8", zarr_format=zarr_format,
                              filters=[numcodecs.Delta(dtype="<f8")], compressors=[numcodecs.Blosc(cname="zstd")])
    a[...] = data
    np.testing.assert_array_equal(zarrsync.open_array(store)[...], data)


def test_objects_missing_the_numcodecs_api_are_refused():
    class Half:
        codec_id = "half"

        def encode(self, buf):
            return buf

    with pytest.raises(CodecError, match="decode"):
        zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2, compressors=[Half()])


def test_zarrsync_imports_numcodecs_only_for_its_accelerators():
    """zarrsync's own codecs serve the numcodecs ids: the codec lookup never imports numcodecs,
    and an array of them works where numcodecs cannot be imported at all. The one import of it
    is the vlen accelerator's (``c_vlen``); c-blosc is loaded from numcodecs' files, found by
    ``find_spec`` (which the watch sees) without importing numcodecs."""
    watch = ("import sys\n"
             "importers = set()\n"
             "class Watch:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'numcodecs':\n"
             "            f = sys._getframe(1)\n"
             "            while f is not None and not f.f_globals.get('__name__', '').startswith('zarrsync'):\n"
             "                f = f.f_back\n"
             "            importers.add((f.f_globals['__name__'], f.f_code.co_name) if f else None)\n"
             "        return None\n"
             "sys.meta_path.insert(0, Watch())\n")
    use = ("import numpy as np, zarrsync\n"
           "a = zarrsync.create_array(None, shape=(9,), chunks=(4,), dtype='f8', zarr_format=2,\n"
           "    compressors={'id': 'blosc', 'cname': 'lz4', 'clevel': 5, 'shuffle': 1, 'blocksize': 0},\n"
           "    filters=[{'id': 'delta', 'dtype': '<f8'}])\n"
           "a[...] = np.arange(9.0); assert (a[...] == np.arange(9.0)).all()\n"
           "s = zarrsync.create_array(None, shape=(40,), chunks=(30,), dtype=str, zarr_format=2)\n"
           "s[...] = np.array([str(i) for i in range(40)]); assert s[...].tolist() == [str(i) for i in range(40)]\n")
    check = ("allowed = {('zarrsync.codecs.cblosc', '_module_file'), ('zarrsync.codecs.vlen', 'c_vlen')}\n"
             "assert importers and importers <= allowed, importers\n")
    r = subprocess.run([sys.executable, "-c", watch + use + check], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    absent = "import sys\nsys.modules['numcodecs'] = None\n"  # any import of it fails
    r = subprocess.run([sys.executable, "-c", absent + use + "assert sys.modules['numcodecs'] is None\n"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("fmt", [2, 3])
def test_opening_an_array_loads_its_decoders_accelerators_and_writing_only_what_it_encodes_with(tmp_path, fmt):
    """c-blosc encodes lz4 chunks only: writing zstd Blosc chunks does not load it. Opening an
    existing array loads its codecs' accelerators, so that its first read does not pay for them.
    numcodecs itself is never imported for Blosc."""
    pytest.importorskip("numcodecs")
    code = ("import sys, numpy as np, zarrsync\n"
            "from zarrsync.codecs import cblosc\n"
            f"p = {str(tmp_path / 'b.zarr')!r}\n"
            f"a = zarrsync.create_array(p, shape=(300, 200), chunks=(100, 100), dtype='u2', zarr_format={fmt},\n"
            "    compressors=[{'id': 'blosc', 'cname': 'zstd', 'clevel': 5, 'shuffle': 1, 'blocksize': 0}]\n"
            f"    if {fmt} == 2 else [{{'name': 'blosc', 'configuration': {{'cname': 'zstd', 'clevel': 5, "
            "'shuffle': 'shuffle', 'typesize': 2, 'blocksize': 0}}])\n"
            "a[...] = np.arange(60000, dtype='u2').reshape(300, 200)\n"
            "assert not cblosc._loaded, 'writing zstd chunks loaded c-blosc'\n"
            "b = zarrsync.open_array(p, mode='r')\n"
            "assert cblosc._loaded and cblosc._loaded[0] is not None, 'opening did not load the accelerator'\n"
            "assert (b[...] == np.arange(60000, dtype='u2').reshape(300, 200)).all()\n"
            "assert 'numcodecs' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_core_operations_on_v2_arrays():
    a = zarrsync.create_array(None, shape=(5, 4), chunks=(2, 3), dtype="<i2", zarr_format=2, order="F",
                              compressors={"id": "zlib", "level": 1}, fill_value=-1)
    x = np.full((5, 4), -1, dtype="<i2")
    a[1:4, ::-2] = 9
    x[1:4, ::-2] = 9
    np.testing.assert_array_equal(a[...], x)
    assert a.append(np.ones((2, 4), dtype="<i2")) == (7, 4)
    np.testing.assert_array_equal(a[5:], np.ones((2, 4)))
    np.testing.assert_array_equal(a[::-3, 2], np.concatenate([x, np.ones((2, 4), "<i2")])[::-3, 2])
    np.testing.assert_array_equal(np.array(list(a)), a[...])
