"""The zarrsync exception hierarchy.

Every error zarrsync raises on purpose is a :class:`ZarrsyncError`, and each also subclasses the
builtin exception a Python user would expect (``ValueError``, ``KeyError``, ``IndexError``,
``PermissionError`` ...), so ``except ValueError`` keeps working. Messages say what was wrong and
where: the key, the metadata field, the codec. :class:`UnguardedWriteWarning` is the one warning.
"""

from __future__ import annotations


class ZarrsyncError(Exception):
    """Base class of every error raised by zarrsync."""


class MetadataError(ZarrsyncError, ValueError):
    """A metadata document (``zarr.json``, ``.zarray`` ...) is missing a field or has a bad value."""


class UnknownExtensionError(MetadataError):
    """Metadata names an extension (codec, data type, grid ...) that zarrsync does not know."""


class DataTypeError(ZarrsyncError, TypeError):
    """A data type cannot be used here (unknown, unsupported, or mismatched with a value)."""


class FillValueError(MetadataError):
    """A fill value cannot be represented in the array's data type."""


class CodecError(ZarrsyncError, ValueError):
    """A codec is misconfigured, or a codec chain is invalid for an array."""


class CorruptChunkError(ZarrsyncError, ValueError):
    """Stored chunk bytes cannot be decoded: bad checksum, truncated frame, size mismatch ..."""

    def __init__(self, message: str, key: str | None = None):
        self.key = key
        super().__init__(f"chunk {key!r}: {message}" if key is not None else message)


class PickleRefusedError(ZarrsyncError, PermissionError):
    """A pickle-based codec was used while the ``allow_pickle`` setting is off (the default):
    unpickling runs arbitrary code, so stored data could take over the reading process."""


class MissingDependencyError(ZarrsyncError, ImportError):
    """A feature needs an optional package that is not installed; the message says which."""


class StoreError(ZarrsyncError, OSError):
    """A store could not carry out an operation."""


class VersionChangedError(StoreError):
    """A stored value changed while a :class:`~zarrsync.storage.base.Snapshot` of it was being
    read (its version token moved): the reader starts over from a new snapshot."""


class InvalidKeyError(ZarrsyncError, ValueError):
    """A store key is malformed or would escape the store's root."""


class ReadOnlyError(ZarrsyncError, PermissionError):
    """A write was attempted on a read-only store, array or group."""


class NodeNotFoundError(ZarrsyncError, KeyError):
    """No array or group exists at a path."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ArrayNotFoundError(NodeNotFoundError):
    """No array exists at a path."""


class GroupNotFoundError(NodeNotFoundError):
    """No group exists at a path."""


class NodeExistsError(ZarrsyncError, FileExistsError):
    """An array or group already exists where a new one was to be created."""


class ContainsArrayError(NodeExistsError):
    """An array already exists at a path."""


class ContainsGroupError(NodeExistsError):
    """A group already exists at a path."""


class IndexingError(ZarrsyncError, IndexError):
    """A selection is malformed or of a kind that this call does not support."""


class SelectionTooLargeError(ZarrsyncError, MemoryError):
    """A read's result cannot be held in memory (it is larger than the machine's memory, or
    allocating it failed); raised before any chunk is touched. Read less, or pass ``out=``."""


class BoundsCheckError(IndexingError):
    """An index lies outside the array's bounds."""


class ValueShapeError(ZarrsyncError, ValueError):
    """A value given to a write cannot be broadcast to the selection's shape."""


class ValueOverflowError(ZarrsyncError, OverflowError, ValueError):
    """A value given to a write does not fit the array's data type (a Python int out of range)."""


class ConfigError(ZarrsyncError, ValueError):
    """A runtime setting has an invalid value."""


class UnguardedWriteWarning(UserWarning):
    """A chunk was written in part on a store that may be shared with writers in other processes
    or machines (``latency_bound``) but has no conditional writes: a concurrent partial write
    of the same chunk elsewhere can lose one of the two updates."""
