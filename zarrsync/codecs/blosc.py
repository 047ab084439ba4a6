"""``blosc``: a bytes -> bytes codec producing one Blosc1 chunk (``SPEC_CHECKLIST`` §2.6, §5).

JSON (zarr-python writes all five keys, ``typesize`` first; so does zarrsync)::

    {"name": "blosc",
     "configuration": {"typesize": 8, "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}}

- ``cname``: ``"lz4"``, ``"lz4hc"``, ``"blosclz"``, ``"zstd"``, ``"snappy"`` or ``"zlib"``. All but
  snappy are decoded; only lz4, lz4hc, zstd and zlib are written (encoding with blosclz or
  snappy raises :class:`~zarrsync.errors.CodecError`).
- ``clevel``: 0..9 (0 stores the data uncompressed inside the Blosc frame).
- ``shuffle``: ``"noshuffle"``, ``"shuffle"`` (byte) or ``"bitshuffle"``.
- ``typesize``: element size used by the shuffles. May be left unset (None): encoding then uses
  the chunk's item size, and the JSON omits the key (zarr-python reads that, and fills in the
  item size when it creates an array).
- ``blocksize``: bytes per Blosc block, 0 = automatic.

Decoding reads typesize, shuffle and compressor from the chunk header only, never from this
configuration, so chunks written with any settings (or by c-blosc / numcodecs) decode. The
byte format and the pure-numpy implementation live in :mod:`.blosc1`.

Example
-------
>>> codec = BloscCodec.from_config({"typesize": 4, "cname": "lz4", "clevel": 5,
...                                 "shuffle": "shuffle", "blocksize": 0})
>>> codec.to_config()["typesize"]
4
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ..errors import CodecError, CorruptChunkError
from .base import BytesBytesCodec, ChunkSpec, bounded_size, check_config
from .blosc1 import CNAMES, blosc_compress_view, blosc_decompress, blosc_decompress_into, c_blosc

__all__ = ["BloscCodec", "SHUFFLE_NAMES"]

#: v3 shuffle names, indexed by the Blosc1 / numcodecs integer
SHUFFLE_NAMES = ("noshuffle", "shuffle", "bitshuffle")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class BloscCodec(BytesBytesCodec):
    name: ClassVar[str] = "blosc"
    #: the numcodecs / Zarr v2 ``id`` of the same byte format
    v2_id: ClassVar[str] = "blosc"
    supports_decode_into: ClassVar[bool] = True

    cname: str = "zstd"
    clevel: int = 5
    shuffle: str = "shuffle"
    typesize: int | None = None
    blocksize: int = 0

    def __post_init__(self):
        if self.cname not in CNAMES:
            raise CodecError(f"codec 'blosc': cname must be one of {list(CNAMES)}, got {self.cname!r}")
        if not _is_int(self.clevel) or not 0 <= self.clevel <= 9:
            raise CodecError(f"codec 'blosc': clevel must be an integer 0..9, got {self.clevel!r}")
        if self.shuffle not in SHUFFLE_NAMES:
            raise CodecError(f"codec 'blosc': shuffle must be one of {list(SHUFFLE_NAMES)}, got {self.shuffle!r}")
        if self.typesize is not None and (not _is_int(self.typesize) or self.typesize < 1):
            raise CodecError(f"codec 'blosc': typesize must be a positive integer, got {self.typesize!r}")
        if not _is_int(self.blocksize) or not 0 <= self.blocksize <= 2**31 - 1:
            raise CodecError(f"codec 'blosc': blocksize must be a non-negative integer, got {self.blocksize!r}")

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"cname", "clevel", "shuffle", "typesize", "blocksize"},
                              {"cname", "clevel", "shuffle"})
        return cls(cname=config["cname"], clevel=config["clevel"], shuffle=config["shuffle"],
                   typesize=config.get("typesize"), blocksize=config.get("blocksize", 0))

    def to_config(self):
        config: dict[str, Any] = {} if self.typesize is None else {"typesize": self.typesize}
        config.update(cname=self.cname, clevel=self.clevel, shuffle=self.shuffle, blocksize=self.blocksize)
        return config

    def encode(self, data, spec: ChunkSpec) -> memoryview:
        """The chunk; a view of this thread's buffer, valid until its next encode (see
        :meth:`CodecPipeline.encode <zarrsync.codecs.chain.CodecPipeline.encode>`)."""
        typesize = self.typesize if self.typesize is not None else spec.dtype.itemsize
        return blosc_compress_view(data, typesize, self.cname, self.clevel, SHUFFLE_NAMES.index(self.shuffle),
                                   self.blocksize)

    def decode(self, data, spec: ChunkSpec, expected_size: int | None) -> bytes:
        out = blosc_decompress(data, bounded_size(spec, expected_size))
        if expected_size is not None and len(out) != expected_size:
            raise CorruptChunkError(f"codec 'blosc': decodes to {len(out)} bytes, the chunk holds {expected_size}")
        return out

    def load_accelerator(self) -> None:
        c_blosc()

    def decode_into(self, data, out: memoryview) -> None:
        blosc_decompress_into(data, out)
