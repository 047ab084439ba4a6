"""ZipStore: an array hierarchy inside one ``.zip`` archive.

Reading works on any zip archive. Writing appends entries, like zarr-python's ZipStore: a zip
archive cannot delete or replace a member in place, so a key written twice is stored twice and
the newest entry wins on read; :meth:`ZipStore.delete` raises. Close the store (or use it as a
context manager) to write the archive's central directory. Open one writable ``ZipStore`` per
archive at a time: each handle writes its own central directory on close, so two writers open
at once lose each other's entries (``zipfile``'s semantics). Views (``with_read_only``) and
copies made by pickling share or reopen the one archive safely.
"""

from __future__ import annotations

import os
import threading
import zipfile
from typing import Iterator

from ..errors import ReadOnlyError, StoreError
from .base import ByteRequest, Store, slice_bytes, validate_key

_MODES = ("r", "w", "a", "x")


class _Archive:
    """The open ``ZipFile``, its mode and its lock: one per store, shared with its views.

    ``Store.with_read_only`` copies the store's attributes, so a view holds this same object
    and never opens (or truncates) the archive a second time, nor keeps a closed handle.
    """

    def __init__(self, mode: str):
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.mode = mode


class ZipStore(Store):
    """A store in a zip archive.

    Parameters
    ----------
    path : str or Path
        The archive.
    mode : {"r", "w", "a", "x"}
        As for :class:`zipfile.ZipFile`; ``"r"`` makes the store read-only.
    compression : int
        ``zipfile.ZIP_STORED`` (default: chunks are compressed already) or ``ZIP_DEFLATED``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zip")
    >>> with ZipStore(p, mode="w") as z:
    ...     z.set("k", b"v")
    >>> ZipStore(p, mode="r").get("k")
    b'v'
    """

    supports_deletes = False

    def __init__(self, path: str | os.PathLike, *, mode: str = "r", read_only: bool | None = None,
                 compression: int = zipfile.ZIP_STORED):
        if mode not in _MODES:
            raise StoreError(f"ZipStore mode must be one of {_MODES}, got {mode!r}")
        super().__init__(read_only=(mode == "r") if read_only is None else read_only)
        self.path = os.path.abspath(os.fspath(path))
        self.compression = compression
        self._state = _Archive(mode)

    @property
    def mode(self) -> str:
        """The mode the archive is (next) opened in; ``"w"``/``"x"`` become ``"a"`` once opened."""
        return self._state.mode

    def __repr__(self) -> str:
        return f"ZipStore({self.path!r}, mode={self.mode!r})"

    def lock_id(self) -> tuple:
        return ("zip", self.path)

    def __getstate__(self):
        with self._state.lock:
            if self.mode != "r":
                # open now, so a "w"/"x" archive is truncated/created once, before the copy
                # exists; then close, to flush what was written so the copy sees it
                self._archive()
                self.close()
            return {"path": self.path, "mode": self.mode,
                    "read_only": self._read_only, "compression": self.compression}

    def __setstate__(self, state):
        self.__init__(state["path"], mode=state["mode"], read_only=state["read_only"],
                      compression=state["compression"])

    def _archive(self) -> zipfile.ZipFile:
        # callers hold self._state.lock
        state = self._state
        if state.zf is None:
            mode = state.mode
            if mode == "a" and not os.path.exists(self.path):
                mode = "w"
            try:
                state.zf = zipfile.ZipFile(self.path, mode=mode, compression=self.compression, allowZip64=True)
            except (OSError, zipfile.BadZipFile) as e:  # missing, exists ("x"), not a zip ...
                raise StoreError(f"cannot open zip archive {self.path!r}: {e}") from e
            if state.mode in ("w", "x"):
                state.mode = "a"  # opened once: never truncate again
        return state.zf

    def close(self) -> None:
        """Write the central directory and close the archive (it reopens on the next use)."""
        with self._state.lock:
            if self._state.zf is not None:
                self._state.zf.close()
                self._state.zf = None

    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        with self._state.lock:
            zf = self._archive()
            try:
                info = zf.getinfo(key)
            except KeyError:
                return None
            value = zf.read(info)
        return slice_bytes(value, byte_range)

    def _set(self, key: str, value) -> None:
        info = zipfile.ZipInfo(key, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16
        if self.mode == "r":  # even a writable view cannot write to an archive opened for reading
            raise ReadOnlyError(f"{self!r} was opened with mode 'r'")
        with self._state.lock:
            zf = self._archive()
            # zipfile warns "Duplicate name" for a key written before; the earlier entry stays in
            # the archive and the newest wins on read. Forgetting the name in the lookup table
            # avoids the warning without touching process-wide warning filters (not thread-safe).
            zf.NameToInfo.pop(key, None)
            zf.writestr(info, bytes(value))

    def _delete(self, key: str) -> None:
        with self._state.lock:
            present = key in self._archive().NameToInfo
        if present:
            raise StoreError(f"cannot delete {key!r}: zip archives are append-only")

    def _list_prefix(self, prefix: str) -> Iterator[str]:
        with self._state.lock:
            names = list(self._archive().NameToInfo)
        return iter([n for n in names if n.startswith(prefix) and not n.endswith("/")])

    def getsize(self, key: str) -> int | None:
        validate_key(key)
        with self._state.lock:
            try:
                return self._archive().getinfo(key).file_size
            except KeyError:
                return None
