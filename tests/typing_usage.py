"""Typed use of the public API, checked by mypy (never run by pytest: no ``test_`` prefix).

If a public signature loses or breaks its types, this file stops type-checking in CI:

    mypy --config-file pyproject.toml --strict --follow-imports=silent tests/typing_usage.py

``reveal``-style checks are plain annotated assignments: each one fails if the API's declared
type is not what a user relies on.
"""

from __future__ import annotations

import asyncio

import numpy as np

import zarrsync
from zarrsync.array import ArrayInfo
from zarrsync.convenience import copy_all_async, from_array_async, tree_async
from zarrsync.errors import ZarrsyncError


def arrays() -> None:
    a: zarrsync.Array = zarrsync.create_array(None, shape=(8, 8), dtype="f4", chunks=(4, 4))
    a[:4, :4] = 1.5
    block: np.ndarray = np.asarray(a[...])
    shape: tuple[int, ...] = a.shape
    chunks: tuple[int, ...] = a.chunks
    dtype: np.dtype = a.dtype
    n: int = a.nchunks
    a.resize((16, 8))
    grown: tuple[int, ...] = a.append(np.zeros((4, 8), dtype="f4"))
    picked = a.oindex[[0, 2], :]
    points = a.vindex[[0, 1], [1, 2]]
    first_block = a.blocks[0, 0]
    print(block.sum(), shape, chunks, dtype, n, grown, picked, points, first_block)

    b = zarrsync.open_array(a.store, path=a.path, mode="r")
    print(b.get_basic_selection((slice(0, 2), 0)))


def groups() -> None:
    store = zarrsync.MemoryStore()
    root: zarrsync.Group = zarrsync.create_group(store)
    child: zarrsync.Group = root.create_group("child", attributes={"units": "m"})
    arr: zarrsync.Array = child.create_array("x", shape=(4,), dtype="i8", chunks=(2,))
    arr[:] = np.arange(4)
    again = zarrsync.open_group(store, mode="r")
    print(again, child.path)


def stores(tmp: str) -> None:
    local: zarrsync.Store = zarrsync.LocalStore(tmp)
    ro: zarrsync.LocalStore = zarrsync.LocalStore(tmp).with_read_only()
    value: bytes | None = local.get("zarr.json")
    print(ro.read_only, value)


def settings() -> None:
    with zarrsync.config.context(max_workers=2):
        current: zarrsync.config.Settings = zarrsync.config.get()
        print(current)


async def twins() -> None:
    """Each ``*_async`` twin takes its sync function's arguments and gives its result, awaited:
    functions, class-body twins (``self`` bound) and the index helpers' twins alike."""
    a: zarrsync.Array = await zarrsync.create_array_async(None, shape=(4,), dtype="u1", chunks=(2,))
    await a.set_basic_selection_async(..., 7)
    data: np.ndarray = await a.get_basic_selection_async(...)
    item: np.ndarray = await a.getitem_async(slice(0, 2))
    await a.setitem_async(slice(0, 2), 3)
    await a.oindex.set_async([0, 1], 5)
    picked: np.ndarray = await a.oindex.get_async([0, 1])
    await a.resize_async((8,))
    grown: tuple[int, ...] = await a.append_async(np.zeros(4, dtype="u1"))
    stored: int = await a.nchunks_initialized_async()
    info: ArrayInfo = await a.info_complete_async()
    again: zarrsync.Array = await zarrsync.open_array_async(a.store, path=a.path, mode="r")
    print(data, item, picked, grown, stored, info, again)

    root: zarrsync.Group = await zarrsync.open_group_async(zarrsync.MemoryStore(), mode="w")
    child: zarrsync.Group = await root.create_group_async("child")
    arr: zarrsync.Array = await child.create_array_async("x", shape=(2,), dtype="i4")
    member: zarrsync.Array | zarrsync.Group = await root.getitem_async("child")
    copied: zarrsync.Array = await from_array_async(zarrsync.MemoryStore(), data=np.arange(3))
    counts: tuple[int, int, int] = await copy_all_async(root, await zarrsync.group_async())
    text: str = await tree_async(root)
    print(arr, member, copied, counts, text)


async def twins_are_not_any(a: zarrsync.Array) -> None:
    """Never run: the twins are not typed ``Any``, so a wrong argument or result type is an
    error and each ignore below is needed (``--strict`` reports an unused one)."""
    await a.resize_async("wide")  # type: ignore[arg-type]
    wrong: str = await a.info_complete_async()  # type: ignore[assignment]
    not_a_group: zarrsync.Group = await zarrsync.open_array_async(a.store)  # type: ignore[assignment]
    print(wrong, not_a_group)


def errors() -> None:
    try:
        zarrsync.open_array(zarrsync.MemoryStore(), mode="r")
    except ZarrsyncError as e:
        print(e)


if __name__ == "__main__":
    asyncio.run(twins())
