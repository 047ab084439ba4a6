"""zarrsync: a Zarr v3 array engine with a synchronous core, a thread pool for chunk work, and an
awaitable ``*_async`` twin for every blocking call.

>>> import zarrsync, numpy as np
>>> a = zarrsync.create_array(None, shape=(8, 8), dtype="f4", chunks=(4, 4))
>>> a[:4, :4] = 1.5
>>> float(a[...].sum())
24.0
"""

from . import config, errors
from .api import *  # noqa: F401,F403 - the public functions and their twins
from .api import __all__ as _api_all
from .convenience import *  # noqa: F401,F403 - also in api's __all__; named here so type checkers see them
from .array import Array
from .dask_bridge import from_dask, to_dask, write_dask
from .group import Group
from .storage import LocalStore, MemoryStore, Store, ZipStore, store_from

__version__ = "0.1.0"

__all__ = ["Array", "Group", "Store", "MemoryStore", "LocalStore", "ZipStore", "store_from",
           "config", "errors", "to_dask", "from_dask", "write_dask", *_api_all]
