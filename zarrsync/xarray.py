"""xarray on zarrsync: the ``engine="zarrsync"`` backend and :func:`to_zarr`.

Reading::

    ds = xr.open_dataset("data.zarr", engine="zarrsync", chunks={})
    tree = xr.open_datatree("s3://bucket/data.zarr", engine="zarrsync")

gives the Dataset (DataTree) that ``engine="zarr"`` gives on the same store, v2 or v3,
consolidated or not. Variables are lazy: nothing but metadata is read until values are needed,
and then only the chunks that the selection touches. xarray's basic, outer and vectorised
indexing map to ``a[...]``, ``a.oindex[...]`` and ``a.vindex[...]``, and xarray's asynchronous
loading to the ``*_async`` twins. With ``chunks={}`` dask chunks are the stored chunks (the inner
chunks of a sharded array, as ``engine="zarr"``).

Writing: :func:`to_zarr` takes the arguments of ``Dataset.to_zarr`` that do not name zarr-python
objects. Both directions use xarray's own CF coding (times, ``_FillValue``, ``scale_factor`` and
``add_offset``, strings) and its Zarr conventions, by calling xarray:

- dimension names are ``dimension_names`` in v3 and the ``_ARRAY_DIMENSIONS`` attribute in v2;
- a v2 array's ``fill_value`` is its ``_FillValue`` (``null`` when there is none);
- a v3 array's ``_FillValue`` is an attribute (floats as base64 of a little-endian double), and
  its ``fill_value`` stays in ``encoding["fill_value"]`` (NaN for floats unless given).

Encodings read from a store hold zarrsync codec objects under ``compressors``, ``filters`` and
``serializer`` where ``engine="zarr"`` holds zarr-python's; :func:`to_zarr` takes either, or
their JSON.

xarray is optional: ``pip install "zarrsync[xarray]"``. The backend is registered under the
``xarray.backends`` entry-point group, so xarray finds it without importing zarrsync first.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Literal, cast

import numpy as np

from .api import consolidate_metadata, open_group
from .array import Array
from .errors import MissingDependencyError, NodeNotFoundError
from .group import Group
from .metadata.v2 import ArrayMetadataV2
from .node import normalize_path

try:
    import xarray as xr
    from xarray import coding, conventions
    from xarray.backends import BackendArray, BackendEntrypoint
    from xarray.backends.chunks import grid_rechunk, validate_grid_chunks_alignment
    from xarray.backends.common import AbstractWritableDataStore, ArrayWriter
    from xarray.backends.store import StoreBackendEntrypoint
    from xarray.backends.writers import dump_to_store
    from xarray.backends.zarr import (FillValueCoder, encode_zarr_attr_value, encode_zarr_variable,
                                      extract_zarr_variable_encoding)
    from xarray.core import indexing
except ImportError as e:  # pragma: no cover - exercised by the CI leg without xarray
    raise MissingDependencyError(f'the xarray backend needs xarray ({e}): pip install "zarrsync[xarray]"') from None

__all__ = ["ZarrsyncBackendEntrypoint", "ZarrsyncDataStore", "to_zarr"]

DIMENSION_KEY = "_ARRAY_DIMENSIONS"  # v2: the attribute that names an array's dimensions


# --- reading ---------------------------------------------------------------------------------------

class ZarrsyncBackendArray(BackendArray):
    """One stored array as xarray's lazy backend array; each index call reads only what it selects."""

    __slots__ = ("_array", "shape", "dtype")

    def __init__(self, array: Array):
        self._array = array
        self.shape = array.shape
        dtype = array.dtype
        if dtype.kind == "O" and _is_vlen_utf8(array):
            dtype = coding.strings.create_vlen_dtype(str)  # object strings, as xarray marks them
        self.dtype = dtype

    def get_array(self) -> Array:
        return self._array

    def _method(self, key, support, asynchronous: bool):
        """The zarrsync call for the key that xarray hands on under ``support``: basic keys
        to ``a[...]``, outer keys (and vectorised keys decomposed into outer ones) to
        ``a.oindex``, vectorised keys of integer arrays to ``a.vindex``."""
        a = self._array
        if isinstance(key, indexing.VectorizedIndexer) and support is indexing.IndexingSupport.VECTORIZED:
            return a.vindex.get_async if asynchronous else a.vindex.get
        if isinstance(key, indexing.BasicIndexer):
            return a.getitem_async if asynchronous else a.__getitem__
        return a.oindex.get_async if asynchronous else a.oindex.get

    def __getitem__(self, key):
        support = _support(key)
        return indexing.explicit_indexing_adapter(key, self.shape, support, self._method(key, support, False))

    async def async_getitem(self, key):
        support = _support(key)
        return await indexing.async_explicit_indexing_adapter(key, self.shape, support,
                                                              self._method(key, support, True))


def _support(key) -> Any:
    """Vectorised keys that mix slices with arrays are decomposed by xarray into an outer read
    plus a numpy step (``a.vindex`` takes integer arrays only); other keys go to the array whole."""
    if isinstance(key, indexing.VectorizedIndexer) and any(isinstance(k, slice) for k in key.tuple):
        return indexing.IndexingSupport.OUTER
    return indexing.IndexingSupport.VECTORIZED


def _is_vlen_utf8(array: Array) -> bool:
    md = array.metadata
    if isinstance(md, ArrayMetadataV2):
        return any(f.get("id") == "vlen-utf8" for f in (md.filters or ()))
    return md.data_type.name == "string"


def _dims_and_attrs(array: Array) -> tuple[tuple, dict]:
    """An array's dimension names and its attributes without the ones that carry them."""
    attrs = dict(array.attrs)
    if array.zarr_format == 3:
        dims = tuple(array.metadata.dimension_names or ())
        if len(dims) != array.ndim:
            raise KeyError(f"array {array.path!r} has no dimension_names, which xarray needs to name its dimensions")
        return dims, attrs
    if DIMENSION_KEY not in attrs:
        raise KeyError(f"array {array.path!r} has no {DIMENSION_KEY} attribute, which xarray needs to "
                       "name its dimensions")
    dims = tuple(attrs.pop(DIMENSION_KEY))
    return dims, {k: v for k, v in attrs.items() if not k.lower().startswith("_nc")}


class ZarrsyncDataStore(AbstractWritableDataStore):
    """A zarrsync group as xarray's data store: variables for reading, arrays for writing.

    ``fill_as_mask`` is xarray's ``use_zarr_fill_value_as_mask``: None means true for v2 groups
    (the Zarr ``fill_value`` is the ``_FillValue``) and false for v3 (``_FillValue`` is an
    attribute).
    """

    def __init__(self, group: Group, *, mode: str = "r", fill_as_mask: bool | None = None,
                 append_dim: Hashable | None = None, region: dict | None = None, safe_chunks: bool = True,
                 align_chunks: bool = False, write_empty: bool | None = None, consolidate_on_close: bool = False):
        self.group = group
        self._mode = mode
        self._fill_as_mask = group.zarr_format == 2 if fill_as_mask is None else fill_as_mask
        self._append_dim = append_dim
        self._region = region
        self._safe_chunks = safe_chunks and not align_chunks
        self._align_chunks = align_chunks
        self._write_empty = write_empty
        self._consolidate_on_close = consolidate_on_close
        self._arrays = dict(group.arrays())  # read once, as the group was at opening

    def get_child_store(self, group: str) -> "ZarrsyncDataStore":
        # cast: xarray asks for a child group by its name
        child = cast(Group, self.group[group]) if self._mode == "r" else self.group.require_group(group)
        return type(self)(child, mode=self._mode, fill_as_mask=self._fill_as_mask)

    # reading
    def open_store_variable(self, name: str) -> "xr.Variable":
        array = self._arrays[name]
        dims, attrs = _dims_and_attrs(array)
        wrapper = ZarrsyncBackendArray(array)
        encoding: dict[str, Any] = {
            "chunks": array.chunks,
            "preferred_chunks": dict(zip(dims, array.chunks)),
            "compressors": array.compressors,
            "filters": array.filters,
            "shards": array.shards,
        }
        if wrapper.dtype.kind == "T":
            encoding["dtype"] = wrapper.dtype
        if array.zarr_format == 3:
            encoding["serializer"] = array.serializer
        if self._fill_as_mask:
            if array.fill_value is not None:
                attrs["_FillValue"] = array.fill_value
        else:
            if array.zarr_format == 3:
                encoding["fill_value"] = array.fill_value
            if "_FillValue" in attrs:
                attrs["_FillValue"] = FillValueCoder.decode(attrs["_FillValue"], array.dtype)
        return xr.Variable(dims, indexing.LazilyIndexedArray(wrapper), attrs, encoding)

    def get_variables(self) -> dict:
        return {name: self.open_store_variable(name) for name in self._arrays}

    def get_attrs(self) -> dict:
        return {k: v for k, v in self.group.attrs.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> dict:
        sizes: dict = {}
        for array in self._arrays.values():
            dims, _ = _dims_and_attrs(array)
            for dim, size in zip(dims, array.shape):
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(f"dimension {dim!r} has lengths {sizes[dim]} and {size} in different arrays")
        return sizes

    # writing (xarray's dump_to_store calls store(); set_variables hands data to ArrayWriter)
    def encode_variable(self, variable, name=None):
        zarr_format = cast(Literal[2, 3], self.group.zarr_format)  # a node's format is 2 or 3
        return encode_zarr_variable(variable, name=name, zarr_format=zarr_format)

    def encode_attribute(self, a):
        return encode_zarr_attr_value(a)

    def set_attributes(self, attributes) -> None:
        self.group.attrs.put(dict(attributes))

    def set_dimensions(self, variables, unlimited_dims=None) -> None:
        if unlimited_dims:
            raise NotImplementedError("Zarr has no unlimited dimensions; use append_dim to grow one")

    def store(self, variables, attributes, check_encoding_set=frozenset(), writer=None, unlimited_dims=None):
        existing = set() if self._mode == "w" else {str(n) for n in variables} & set(self._arrays)
        if self._mode == "r+" and (new := [n for n in variables if str(n) not in existing]):
            raise ValueError(f"variables {new!r} are not in the store, and mode='r+' writes only existing ones; "
                             "use mode='a' to add variables")
        if self._append_dim is not None and self._append_dim not in self.get_dimensions():
            raise ValueError(f"append_dim={self._append_dim!r} is not a dimension of the stored dataset "
                             f"{sorted(map(str, self.get_dimensions()))}")
        encoded, attributes = self.encode({n: v for n, v in variables.items() if str(n) not in existing}, attributes)
        if existing:
            encoded.update(self._encode_like_stored({n: variables[n] for n in variables if str(n) in existing}))
        if self._mode not in ("r", "r+"):
            self.set_attributes(attributes)
            self.set_dimensions(encoded, unlimited_dims)
        if self._mode == "a-" and self._append_dim is not None:
            encoded = {n: v for n, v in encoded.items() if str(n) not in existing or self._append_dim in v.dims}
        self.set_variables(encoded, check_encoding_set, writer)
        if self._consolidate_on_close:
            consolidate_metadata(self.group.store)

    def _encode_like_stored(self, variables: dict) -> dict:
        """Variables about to be written into stored arrays, encoded exactly as the stored ones
        (same units, dtype, scale and fill), with dimensions in the stored order."""
        stored, _, _ = conventions.decode_cf_variables({str(n): self.open_store_variable(str(n)) for n in variables}, {})
        out = {}
        for n, v in variables.items():
            old = stored[str(n)]
            if v.dtype.kind in "SU" and old.dtype.kind != "O" and v.dtype != old.dtype:
                raise ValueError(f"variable {n!r} is stored as {old.dtype}, the new values are {v.dtype}: "
                                 "fixed-width strings of another width would be cut")
            v = v.copy(deep=False)
            v.encoding = old.encoding
            if v.dims != old.dims:
                if set(v.dims) != set(old.dims):
                    raise ValueError(f"variable {n!r} is stored with dimensions {old.dims}, not {v.dims}")
                v = v.transpose(*old.dims)
            expected = {d: self._region_size(d, s) for d, s in old.sizes.items() if d != self._append_dim}
            got = {d: s for d, s in v.sizes.items() if d != self._append_dim}
            if expected != got:
                raise ValueError(f"variable {n!r} is stored with sizes {expected}, the new values have {got}; "
                                 "only append_dim may change a size (use region= to write part of a variable)")
            out[n] = v
        encoded, _ = self.encode(out, {})
        return encoded

    def _region_size(self, dim, size: int) -> int:
        if self._region and dim in self._region:
            start, stop, _ = self._region[dim].indices(size)
            return stop - start
        return size

    def set_variables(self, variables, check_encoding_set, writer, unlimited_dims=None) -> None:
        zarr_format = cast(Literal[2, 3], self.group.zarr_format)  # a node's format is 2 or 3
        for vn, v in variables.items():
            name = str(vn)
            attrs = dict(v.attrs)
            if self._fill_as_mask:
                fill_value = attrs.pop("_FillValue", None)
            else:
                fill_value = v.encoding.pop("fill_value", None)
                if fill_value is None and v.dtype.kind == "f":
                    fill_value = np.nan  # xarray's default for floats in v3
                if attrs.get("_FillValue") is not None:
                    attrs["_FillValue"] = FillValueCoder.encode(attrs["_FillValue"], v.dtype)
            if v.encoding.get("_FillValue", None) is not None:
                raise ValueError(f"variable {name!r}: Zarr takes _FillValue as an attribute, not in encoding")
            v.encoding.pop("_FillValue", None)
            encoding = extract_zarr_variable_encoding(v, raise_on_invalid=vn in check_encoding_set, name=vn,
                                                      zarr_format=zarr_format)
            dim_region = {d: (self._region or {}).get(d, slice(None)) for d in v.dims}
            shape = v.shape
            array = None
            if self._mode != "w" and name in self._arrays:
                array = self._arrays[name]
                if self._append_dim is not None and self._append_dim in v.dims:
                    axis = v.dims.index(self._append_dim)
                    dim_region[self._append_dim] = slice(array.shape[axis], None)
                    array.resize(array.shape[:axis] + (array.shape[axis] + v.shape[axis],) + array.shape[axis + 1:])
                shape = array.shape
            region = tuple(dim_region[d] for d in v.dims)
            write_chunks = encoding.get("shards") or encoding["chunks"]
            if array is not None:
                write_chunks = array.shards or array.chunks
            if isinstance(write_chunks, tuple):
                if self._align_chunks:
                    v = grid_rechunk(v=v, enc_chunks=write_chunks, region=region)
                if self._safe_chunks:
                    validate_grid_chunks_alignment(nd_v_chunks=v.chunks, enc_chunks=write_chunks, region=region,
                                                   allow_partial_chunks=self._mode != "r+", name=name,
                                                   backend_shape=shape)
            if array is None:
                array = self._create(name, v, fill_value, encoding, attrs)
            writer.add(v.data, array, region)

    def _create(self, name: str, v, fill_value: Any, encoding: dict, attrs: dict) -> Array:
        attrs = {k: self.encode_attribute(a) for k, a in attrs.items()}
        dtype = str if coding.strings.check_vlen_dtype(v.dtype) is str else v.dtype
        write_empty = encoding.pop("write_empty_chunks", None)
        if self._write_empty is not None:
            if write_empty is not None and write_empty != self._write_empty:
                raise ValueError(f"variable {name!r}: encoding write_empty_chunks={write_empty} differs from "
                                 f"write_empty_chunks={self._write_empty}")
            write_empty = self._write_empty
        kwargs: dict[str, Any] = {"chunks": encoding["chunks"], "fill_value": fill_value}
        for key in ("shards", "chunk_key_encoding"):
            if encoding.get(key) is not None:
                kwargs[key] = encoding[key]
        for key in ("compressors", "filters", "serializer"):
            if key in encoding:
                kwargs[key] = _codecs_as_json(encoding[key])
        if self.group.zarr_format == 3:
            kwargs["dimension_names"] = v.dims or None  # none for a scalar, as zarr-python leaves them out
        else:
            attrs[DIMENSION_KEY] = list(v.dims)
        config = {} if write_empty is None else {"write_empty_chunks": write_empty}
        array = self.group.create_array(name, shape=v.shape, dtype=dtype, attributes=attrs,
                                        overwrite=self._mode == "w", config=config, **kwargs)
        self._arrays[name] = array
        return array

    def close(self) -> None:
        pass


def _codecs_as_json(value: Any) -> Any:
    """Codecs from another library's encoding (zarr-python's ``to_dict``, numcodecs' ``get_config``)
    as JSON that zarrsync parses; zarrsync's own codecs, JSON and ``"auto"`` pass through."""
    if isinstance(value, (list, tuple)):
        return [_codecs_as_json(c) for c in value]
    if type(value).__module__.split(".")[0] == "zarr" and hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _open_group_for(where: Any, group: str | None, mode: str, consolidated: bool | None,
                    storage_options: dict | None, zarr_format: int | None) -> Group:
    """The group to read: the root is opened first so its consolidated metadata, if any, lists
    every node below it (as xarray's zarr backend does)."""
    if isinstance(where, os.PathLike):
        where = os.fspath(where)
    use = None if consolidated is None else bool(consolidated)
    root = open_group(where, mode=mode, zarr_format=zarr_format, use_consolidated=use,
                      storage_options=storage_options)
    path = normalize_path(group)
    if not path:
        return root
    node = root[path]
    if not isinstance(node, Group):
        raise NodeNotFoundError(f"{path!r} is an array, not a group")
    return node


def _decoders(kwargs: dict) -> dict:
    return {k: kwargs[k] for k in ("mask_and_scale", "decode_times", "concat_characters", "decode_coords",
                                   "drop_variables", "use_cftime", "decode_timedelta")}


class ZarrsyncBackendEntrypoint(BackendEntrypoint):
    """``engine="zarrsync"``: Zarr v2 and v3 through zarrsync (local paths, URLs, zarrsync stores)."""

    description = "Open Zarr v2 and v3 stores with zarrsync"
    url = "https://github.com/zarrsync/zarrsync"
    supports_groups = True
    open_dataset_parameters = ("filename_or_obj", "mask_and_scale", "decode_times", "concat_characters",
                               "decode_coords", "drop_variables", "use_cftime", "decode_timedelta", "group",
                               "consolidated", "storage_options", "zarr_format", "use_zarr_fill_value_as_mask")

    def guess_can_open(self, filename_or_obj) -> bool:
        if isinstance(filename_or_obj, (str, os.PathLike)):
            return os.path.splitext(str(filename_or_obj).rstrip("/"))[1] == ".zarr"
        return False

    def open_dataset(self, filename_or_obj, *, mask_and_scale=True, decode_times=True, concat_characters=True,
                     decode_coords=True, drop_variables: str | Iterable[str] | None = None, use_cftime=None,
                     decode_timedelta=None, group: str | None = None, consolidated: bool | None = None,
                     storage_options: dict | None = None, zarr_format: int | None = None,
                     use_zarr_fill_value_as_mask: bool | None = None) -> "xr.Dataset":
        g = _open_group_for(filename_or_obj, group, "r", consolidated, storage_options, zarr_format)
        store = ZarrsyncDataStore(g, fill_as_mask=use_zarr_fill_value_as_mask)
        return StoreBackendEntrypoint().open_dataset(store, **_decoders(locals()))

    def open_groups_as_dict(self, filename_or_obj, *, mask_and_scale=True, decode_times=True,
                            concat_characters=True, decode_coords=True, drop_variables=None, use_cftime=None,
                            decode_timedelta=None, group: str | None = None, consolidated: bool | None = None,
                            storage_options: dict | None = None, zarr_format: int | None = None,
                            use_zarr_fill_value_as_mask: bool | None = None) -> dict[str, "xr.Dataset"]:
        top = _open_group_for(filename_or_obj, group, "r", consolidated, storage_options, zarr_format)
        decoders = _decoders(locals())
        out = {}
        for rel, g in [("", top), *((r, n) for r, n in top.members(max_depth=None) if isinstance(n, Group))]:
            store = ZarrsyncDataStore(g, fill_as_mask=use_zarr_fill_value_as_mask)
            out["/" + rel] = StoreBackendEntrypoint().open_dataset(store, **decoders)
        return out

    def open_datatree(self, filename_or_obj, **kwargs) -> "xr.DataTree":
        return xr.DataTree.from_dict(self.open_groups_as_dict(filename_or_obj, **kwargs))


# --- writing ---------------------------------------------------------------------------------------

def _default_mode(mode: str | None, append_dim, region) -> str:
    if mode is None:
        return "a" if append_dim is not None else "r+" if region is not None else "w-"
    if mode not in ("w", "w-", "a", "a-", "r+"):
        raise ValueError(f"mode must be 'w', 'w-', 'a', 'a-' or 'r+', got {mode!r}")
    if append_dim is not None and mode not in ("a", "a-"):
        raise ValueError(f"append_dim needs mode='a' or 'a-', got mode={mode!r}")
    if region is not None and mode not in ("a", "r+"):
        raise ValueError(f"region needs mode='a' or 'r+', got mode={mode!r}")
    return mode


def _resolve_region(ds: "xr.Dataset", region: Any, store: ZarrsyncDataStore) -> dict:
    """``region`` as ``{dim: slice}``: slices as given, ``"auto"`` found from the stored index
    coordinates (the new coordinate values must be a contiguous run of the stored ones)."""
    import pandas as pd

    if region == "auto":
        region = dict.fromkeys(ds.dims, "auto")
    if not isinstance(region, Mapping):
        raise TypeError(f"region must be a dict of dimension -> slice or 'auto', got {type(region).__name__}")
    out = {}
    for dim, where in region.items():
        if dim not in ds.dims:
            raise ValueError(f"region dimension {dim!r} is not a dimension of the dataset {list(ds.dims)}")
        if isinstance(where, str) and where == "auto":
            if dim not in ds.variables:
                out[dim] = slice(0, ds.sizes[dim])
                continue
            stored = conventions.decode_cf_variable(dim, store.open_store_variable(str(dim)).compute())
            positions = pd.Index(stored.values).get_indexer(ds[dim].values)
            if (positions < 0).any():
                raise KeyError(f"region='auto': some {dim!r} values are not in the stored coordinate")
            if len(positions) and (np.diff(positions) != 1).any():
                raise ValueError(f"region='auto': the {dim!r} values are not a contiguous run of the stored ones")
            out[dim] = slice(int(positions[0]), int(positions[-1]) + 1) if len(positions) else slice(0, 0)
        elif isinstance(where, slice):
            if where.step not in (None, 1):
                raise ValueError(f"region slices must have step 1, got {where!r} for {dim!r}")
            out[dim] = where
        else:
            raise TypeError(f"region values must be slices or 'auto', got {where!r} for {dim!r}")
    unrelated = [k for k, v in ds.variables.items() if out and not set(out) & set(v.dims)]
    if unrelated:
        raise ValueError(f"with region=, every variable needs one of the region's dimensions {list(out)}; "
                         f"drop the others first: ds.drop_vars({unrelated!r})")
    return out


def to_zarr(ds: "xr.Dataset", store: Any = None, *, mode: str | None = None, group: str | None = None,
            encoding: Mapping | None = None, compute: bool = True, consolidated: bool | None = True,
            append_dim: Hashable | None = None, region: Mapping | str | None = None, safe_chunks: bool = True,
            align_chunks: bool = False, storage_options: dict | None = None, zarr_format: int | None = None,
            write_empty_chunks: bool | None = None) -> Any:
    """Write ``ds`` as a Zarr group that ``xr.open_zarr`` (zarr-python) reads back identically.

    Parameters follow ``Dataset.to_zarr``: ``mode`` ``"w"`` (replace), ``"w-"`` (fail if present;
    default), ``"a"`` (add or overwrite variables, or append along ``append_dim``), ``"a-"``
    (append, leave other variables), ``"r+"`` (only existing variables; default with
    ``region``). ``region`` is ``{dim: slice | "auto"}`` or ``"auto"``. ``zarr_format``: 3
    (default for new groups) or 2; an existing group keeps its own. ``consolidated`` (default
    True) stores consolidated metadata afterwards. Returns the group written; with
    ``compute=False``, a dask ``Delayed`` that writes the dask-backed data and then gives the group
    (metadata and numpy-backed data are written at once). Data in dask arrays is written block by block, each block
    covering whole stored objects (checked, or rechunked with ``align_chunks=True``).
    """
    if not isinstance(ds, xr.Dataset):
        ds = ds.to_dataset() if isinstance(ds, xr.DataArray) else ds
    mode = _default_mode(mode, append_dim, region)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if mode == "w":
        g = open_group(store, path=group, mode="w", zarr_format=zarr_format or 3, storage_options=storage_options)
    elif mode == "w-":
        g = open_group(store, path=group, mode="w-", zarr_format=zarr_format or 3, storage_options=storage_options)
    else:
        g = open_group(store, path=group, mode="r+" if mode == "r+" else "a", zarr_format=zarr_format,
                       storage_options=storage_options, use_consolidated=False)
    for v in ds.variables.values():
        if v.size == 0:
            v.load()
    datastore = ZarrsyncDataStore(g, mode=mode, append_dim=append_dim, safe_chunks=safe_chunks,
                                  align_chunks=align_chunks, write_empty=write_empty_chunks,
                                  consolidate_on_close=mode != "r+" and bool(consolidated))
    if region is not None:
        datastore._region = _resolve_region(ds, region, datastore)
        if append_dim is not None and append_dim in datastore._region:
            raise ValueError(f"append_dim {append_dim!r} cannot also be a region dimension")
        ds = ds.drop_vars(ds.indexes)
    encoding = dict(encoding or {})
    if encoding and mode in ("a", "a-", "r+"):
        if clash := sorted(set(map(str, encoding)) & set(datastore._arrays)):
            raise ValueError(f"variables {clash} already exist; their encoding cannot be changed")
    writer = ArrayWriter()
    dump_to_store(ds, datastore, writer, encoding=encoding)
    writes = writer.sync(compute=compute)
    if compute or writes is None:
        return g
    import dask

    return dask.delayed(_written)(writes, g)


def _written(writes: Any, group: Group) -> Group:
    """The end of a ``compute=False`` write: the group, once ``writes`` (the stores) have run."""
    return group
