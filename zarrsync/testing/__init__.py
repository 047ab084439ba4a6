"""Shared test suites that zarrsync's own tests, and third-party stores, reuse.

:class:`StoreTests` checks the whole :class:`~zarrsync.storage.Store` contract. A store's test
module subclasses it, names the class and says how to make a fresh, empty, writable store:

>>> class TestMyStore(StoreTests):                  # doctest: +SKIP
...     store_cls = MyStore
...     def make_store(self, tmp_path):
...         return MyStore(tmp_path / "data")

Capabilities come from the store's class attributes (``supports_deletes`` ...), never from skips:
a store that cannot delete gets its delete tests checked against ``delete_error`` instead.

:class:`FaultyStore` wraps any store and injects faults (fail the Nth read, write or delete,
fail chosen keys, tear writes, delay), to check that errors reach the caller and old data stays.

This module imports pytest and is meant to be imported by tests only.
"""

from .codecs import *  # noqa: F401,F403
from .codecs import __all__ as _codecs_all
from .helpers import *  # noqa: F401,F403
from .helpers import __all__ as _helpers_all
from .stores import *  # noqa: F401,F403
from .stores import __all__ as _stores_all

__all__ = [*_stores_all, *_helpers_all, *_codecs_all]
