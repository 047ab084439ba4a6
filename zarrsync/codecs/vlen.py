"""``vlen-utf8`` and ``vlen-bytes``: variable-length strings and byte strings (array -> bytes).

JSON: ``{"name": "vlen-utf8", "configuration": {}}`` and ``{"name": "vlen-bytes",
"configuration": {}}``. Neither has settings: a missing ``configuration`` or ``{}`` is read, and
``{}`` is written, as zarr-python does. Both are registered in zarr-extensions; ``vlen-utf8``
belongs with the ``string`` data type and ``vlen-bytes`` with ``bytes`` (``SPEC_CHECKLIST`` §2.8).

Byte format (the numcodecs ``vlen.pyx`` framing, shared with the numcodecs-compatible
``vlen-utf8``, ``vlen-bytes`` and ``vlen-array`` of :mod:`zarrsync.codecs.objects`): a u32le
item count, then, for each element in C order, a u32le byte length and that many bytes (UTF-8
for ``vlen-utf8``)::

    ['a', 'é', None]  ->  03000000 01000000 61 02000000 c3a9 00000000

Encoding takes a chunk of numpy object dtype (``str`` for vlen-utf8, ``bytes`` or ``bytearray``
for vlen-bytes; ``None`` and ``0`` are written as empty, as numcodecs does), numpy 2
``StringDType`` (vlen-utf8; a missing value is written as ``""``) or fixed-size ``U``
(vlen-utf8) / ``S`` (vlen-bytes). Decoding returns an array of the chunk spec's dtype: object
(Python ``str`` / ``bytes``), ``StringDType``, or ``U`` / ``S`` when every element fits.

Decoding is strict and bounded: a missing header, an item count other than the number of
elements of the chunk, a length that runs past the end, bytes after the last item or invalid
UTF-8 raise :class:`~zarrsync.errors.CorruptChunkError` naming the item. Every item needs at least
its 4 length bytes, so a count is checked against the input size before anything is allocated.

Speed (no per-item struct calls): encoding joins all strings once, with four zero bytes where
each length goes, encodes that text to UTF-8 once and writes the lengths with numpy. Decoding
finds the length prefixes with numpy: first a check for the case where every item has the same
length, then a guess from the offsets whose u32 is small (text payloads; see
:func:`_chain_guess`), kept only if it is exactly the chain. Otherwise (binary payloads) it
follows the chain of prefixes in one tight loop over four ``memoryview`` casts (one per byte
alignment). It then overwrites the prefixes with a byte
value that no payload holds, decodes all text at once and splits it. Chunks of up to 24 items
take plain loops, which beat numpy's set-up cost there. Decoding into an output
(:meth:`decode_to`) hands the item list to the output itself: no intermediate chunk array.

Accelerator (the ``fast`` extra, numcodecs): making one Python ``str`` per item costs the same in
any Python code, so the compiled decoder, which finds the items while it makes them, is faster
by the cost of finding them. Chunks of more than 24 items go to numcodecs when it is installed;
:func:`_c_decode` checks the framing as strictly as the Python decoder, and any chunk numcodecs
refuses goes to the Python decoder, which names the fault. Fixed-width and ``StringDType``
chunks are encoded by numcodecs too: the format leaves no choice of bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import struct
import sys
from array import array
from itertools import repeat
from numbers import Number
from typing import Any, ClassVar

import numpy as np

from ..errors import CodecError, CorruptChunkError, DataTypeError
from .base import ArrayBytesCodec, ChunkSpec
from .chain import scratch
from .numcodecs_api import ensure_contiguous_bytes

__all__ = ["VLenUTF8Codec", "VLenBytesCodec", "pack_utf8", "pack_bytes", "pack_frames", "unpack_frames",
           "unpack_utf8", "unpack_bytes", "unpack_items", "c_vlen", "object_array", "STRING_DTYPE"]

#: numpy 2's variable-width string dtype class, or None on numpy 1
STRING_DTYPE = getattr(np.dtypes, "StringDType", None)

_U32_MAX = 0xFFFFFFFF
_SEP = b"\0\0\0\0"  # a placeholder for a length, filled in afterwards
_SEP_STR = "\0\0\0\0"
#: reading u32 through ``memoryview.cast("I")`` needs a little-endian host with a 4-byte int
_NATIVE_U32 = sys.byteorder == "little" and struct.calcsize("I") == 4
#: below this many items a plain loop beats the bulk numpy path
_SMALL = 24


def _as_bytes(data: Any) -> bytes:
    """``data`` (bytes, bytearray, memoryview, ndarray) as one ``bytes`` object."""
    if type(data) is bytes:
        return data
    return ensure_contiguous_bytes(data).tobytes()


# --- the optional compiled accelerator ---------------------------------------------------

@functools.cache
def c_vlen() -> tuple[Any, Any] | None:
    """numcodecs' compiled ``(VLenUTF8(), VLenBytes())`` when numcodecs is installed (the
    optional accelerator: the ``fast`` extra), else None. Both are stateless."""
    try:
        from numcodecs.vlen import VLenBytes, VLenUTF8
    except Exception:  # noqa: BLE001 - not installed, or broken: decode in Python
        return None
    return VLenUTF8(), VLenBytes()


#: the length prefix of the marker item :func:`_c_decode` appends
_MARK_PREFIX = (16).to_bytes(4, "little")


def _c_encode(values: np.ndarray, text: bool) -> bytearray | None:
    """The framing of ``values`` (``U``/``StringDType`` without a missing value, or ``S``: every
    item a ``str`` / ``bytes``) written by numcodecs, or None without numcodecs or when it
    refuses (the Python encoder then names the fault). The format leaves no choice: these are
    the bytes the Python encoder writes."""
    codecs = c_vlen()
    if codecs is None:
        return None
    try:
        return codecs[0 if text else 1].encode(values.astype(object))
    except Exception:  # noqa: BLE001 - any refusal: the Python encoder decides and names it
        return None


def _c_decode(data: bytes, n: int, text: bool) -> np.ndarray | None:
    """The ``n`` items as a 1-d object array decoded by numcodecs, or None when there is no
    numcodecs or the chunk is not exactly a well-formed frame (the Python decoder then names
    the fault).

    numcodecs does not check that the last item ends where the buffer does, so it reads a copy
    with one item appended: 16 random capital letters, drawn per call, and a header that counts
    it. The last item read is those letters only if item ``n`` starts exactly at the end of
    ``data``: had the items ended earlier, the appended prefix ``10 00 00 00`` would fall inside
    the extra item's length (too long for what is left) or inside its payload (a byte no
    capital letter is); had they ended later, its length would hold letters (too long). Only
    trailing bytes that spell the 20 bytes of a frame of this call's letters, a chance of about
    26**-16 for data written before the letters were drawn, could pass.
    """
    codecs = c_vlen()
    if codecs is None or n >= _U32_MAX:  # the count must hold one more item
        return None
    mark = bytes(65 + b % 26 for b in os.urandom(16))
    total = len(data)
    buf = memoryview(scratch(total + 20, "vlen-marked"))  # the items copy out of it
    buf[:total] = data
    buf[:4] = (n + 1).to_bytes(4, "little")
    buf[total:] = _MARK_PREFIX + mark
    try:
        items = codecs[0 if text else 1].decode(buf)
    except Exception:  # noqa: BLE001 - any refusal: the Python decoder decides and names it
        return None
    last = mark.decode("ascii") if text else mark
    if len(items) != n + 1 or items[n] != last:
        return None
    return items[:n]


# --- encoding --------------------------------------------------------------------------------

def _is_zero(x: Any) -> bool:
    # numcodecs writes None and anything == 0 (0, 0.0, False) as empty; other objects are errors
    return isinstance(x, (Number, np.bool_)) and x == 0


def _text_items(items: list, codec: str, missing_ok: bool) -> list:
    """``items`` with None / 0 (and, for StringDType, its missing value) as ``""``; else an error."""
    out = []
    for i, x in enumerate(items):
        if isinstance(x, str):
            out.append(x)
        elif x is None or missing_ok or _is_zero(x):
            out.append("")
        else:
            raise DataTypeError(f"codec {codec!r}: item {i} is a {type(x).__name__} ({x!r:.60}), expected str")
    return out


def _bytes_items(items: list, codec: str) -> list:
    out = []
    for i, x in enumerate(items):
        if isinstance(x, (bytes, bytearray)):
            out.append(x)
        elif x is None or _is_zero(x):
            out.append(b"")
        else:
            raise DataTypeError(f"codec {codec!r}: item {i} is a {type(x).__name__} ({x!r:.60}), "
                                f"expected bytes")
    return out


def _too_long(codec: str) -> CodecError:
    return CodecError(f"codec {codec!r}: an item count or item length exceeds the 4 GiB limit of the format")


def _pack_few(payloads: list, codec: str) -> bytearray:
    """The framing for a handful of items (a plain loop beats numpy's set-up cost)."""
    parts = [len(payloads).to_bytes(4, "little")]
    for p in payloads:
        size = memoryview(p).nbytes
        if size > _U32_MAX:
            raise _too_long(codec)
        parts.append(size.to_bytes(4, "little"))
        parts.append(p)
    return bytearray(b"".join(parts))


def _layout(joined: bytes, lens: np.ndarray, codec: str) -> bytearray:
    """Finish the frame: ``joined`` holds four placeholder (zero) bytes for the count and, before
    each payload, four for its length (what ``SEP.join(["", "", *payloads])`` makes)."""
    n = lens.size
    if n > _U32_MAX or (n and int(lens.max()) > _U32_MAX):
        raise _too_long(codec)
    out = bytearray(joined)
    buf = np.frombuffer(out, np.uint8)
    buf[:4] = np.frombuffer(n.to_bytes(4, "little"), np.uint8)
    if n:
        pos = np.cumsum(lens)
        pos -= lens  # payload bytes before each item ...
        pos += np.arange(4, 4 + 4 * n, 4, dtype=np.int64)  # ... plus the prefixes before it
        buf[pos] = lens.astype(np.uint8)  # the low bytes; the other placeholders stay zero ...
        big = np.flatnonzero(lens > 0xFF)
        if big.size:  # ... except for items of 256 bytes or more
            pos, lens = pos[big], lens[big]
            for k in (1, 2, 3):
                buf[pos + k] = (lens >> (8 * k)).astype(np.uint8)
    return out


def pack_frames(payloads: list, codec: str) -> bytearray:
    """Frame a list of bytes-like payloads: u32le count, then u32le length + bytes for each.

    Example
    -------
    >>> bytes(pack_frames([b"a", b"", b"bc"], "vlen-bytes")).hex()
    '03000000010000006100000000020000006263'
    """
    if len(payloads) <= _SMALL:
        return _pack_few(payloads, codec)
    joined = _SEP.join([b"", b"", *payloads])
    lens = np.fromiter(map(len, payloads), np.int64, len(payloads))
    if len(joined) != 4 + 4 * lens.size + int(lens.sum()):  # a memoryview of items wider than a byte
        lens = np.fromiter((memoryview(p).nbytes for p in payloads), np.int64, len(payloads))
    return _layout(joined, lens, codec)


def _utf8_error_on_encode(codec: str, items: list, e: UnicodeEncodeError) -> CodecError:
    for i, s in enumerate(items):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            return CodecError(f"codec {codec!r}: item {i} cannot be written as UTF-8 ({e.reason})")
    return CodecError(f"codec {codec!r}: {e}")  # pragma: no cover - the joined text failed, so one item does


def pack_utf8(values: np.ndarray, codec: str = "vlen-utf8") -> bytearray:
    """Encode a flat array of strings (object, ``StringDType`` or ``U``) in the vlen framing.

    ``None`` and ``0`` (object arrays) and missing values (``StringDType``) become ``""``; any
    other non-string raises :class:`~zarrsync.errors.DataTypeError`.

    Example
    -------
    >>> bytes(pack_utf8(np.array(["a", "é", None], dtype=object))).hex()
    '03000000010000006102000000c3a900000000'
    """
    kind = values.dtype.kind
    if kind not in "OTU":
        raise DataTypeError(f"codec {codec!r}: cannot encode an array of {values.dtype} as UTF-8 strings")
    if kind != "O" and values.size > _SMALL and not hasattr(values.dtype, "na_object"):
        packed = _c_encode(values, text=True)
        if packed is not None:
            return packed
    items = values.tolist()
    try:
        # one join of all strings, with four NULs where each length goes (TypeError: a non-str)
        text = _SEP_STR.join(["", "", *items])
    except TypeError:
        items = _text_items(items, codec, missing_ok=kind == "T")
        text = _SEP_STR.join(["", "", *items])
    try:
        if len(items) <= _SMALL:
            return _pack_few([s.encode("utf-8") for s in items], codec)
        raw = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _utf8_error_on_encode(codec, items, e) from None
    if len(raw) == len(text):  # all ASCII: a character is a byte
        lens = np.fromiter(map(len, items), np.int64, len(items))
    else:
        lens = np.fromiter(map(len, map(str.encode, items)), np.int64, len(items))
    return _layout(raw, lens, codec)


def pack_bytes(values: np.ndarray, codec: str = "vlen-bytes") -> bytearray:
    """Encode a flat array of byte strings (object or ``S``) in the vlen framing.

    ``None`` and ``0`` become ``b""``; any other non-bytes raises
    :class:`~zarrsync.errors.DataTypeError`.
    """
    if values.dtype.kind not in "OS":
        raise DataTypeError(f"codec {codec!r}: cannot encode an array of {values.dtype} as byte strings")
    if values.dtype.kind == "S" and values.size > _SMALL:
        packed = _c_encode(values, text=False)
        if packed is not None:
            return packed
    items = values.tolist()
    if values.dtype.kind == "O" and not set(map(type, items)) <= {bytes, bytearray}:
        items = _bytes_items(items, codec)
    return pack_frames(items, codec)


# --- decoding --------------------------------------------------------------------------------

def _header(data: Any, count: int | None, codec: str) -> tuple[bytes, int]:
    """The input as bytes and its item count, checked against ``count`` and the input size."""
    data = _as_bytes(data)
    total = len(data)
    if total < 4:
        raise CorruptChunkError(f"codec {codec!r}: {total} bytes is too short for the 4-byte item count")
    n = int.from_bytes(data[:4], "little")
    if count is not None and n != count:
        raise CorruptChunkError(f"codec {codec!r}: the header says {n} items, the chunk holds {count}")
    if 4 + 4 * n > total:  # every item needs its 4 length bytes: bounds all later allocations
        raise CorruptChunkError(f"codec {codec!r}: the header says {n} items, but {total} bytes can hold at most "
                                f"{(total - 4) // 4}")
    return data, n


def _chain(data: bytes, n: int, codec: str) -> array:
    """The end offset of every item, following the length prefixes one by one (the general path)."""
    total = len(data)
    ends = array("q")
    append = ends.append
    pos = 4
    try:
        if _NATIVE_U32:
            mv = memoryview(data)
            views = tuple(mv[r: r + 4 * ((total - r) // 4)].cast("I") for r in range(4))
            for _ in repeat(None, n):
                pos += 4 + views[pos & 3][pos >> 2]
                append(pos)
        else:  # pragma: no cover - big-endian hosts
            unpack = struct.Struct("<I").unpack_from
            for _ in repeat(None, n):
                pos += 4 + unpack(data, pos)[0]
                append(pos)
    except (IndexError, struct.error):
        k = len(ends)
        if pos <= total:
            raise CorruptChunkError(f"codec {codec!r}: the chunk ends inside the length of item {k} "
                                    f"(byte {pos} of {total})") from None
        n = k  # the last item read runs past the end: reported below
    if n and pos > total:
        prev = ends[n - 2] if n >= 2 else 4
        raise CorruptChunkError(f"codec {codec!r}: item {n - 1} has length {pos - prev - 4}, which runs past "
                                f"the end of the {total}-byte chunk")
    if pos < total:
        raise CorruptChunkError(f"codec {codec!r}: {total - pos} bytes follow the last item")
    return ends


def _chain_same_length(data: bytes, n: int) -> np.ndarray | None:
    """The item ends if every item has the length of the first (checked at once), else None."""
    first = int.from_bytes(data[4:8], "little")
    if 4 + n * (4 + first) != len(data):
        return None
    heads = np.ndarray((n,), "<u4", data, 4, (4 + first,))
    if not (heads == first).all():
        return None
    return np.arange(8 + first, len(data) + 1, 4 + first, dtype=np.int64)


_GUESS_MAX = 64 << 20  # bounds the guess's index arrays (a few bytes per input byte at most)


def _chain_guess(data: bytes, n: int) -> np.ndarray | None:
    """The item ends, found with numpy when the payloads look like text, or None.

    A u32 read at an offset that holds a length is small; one read across text is not (its top
    byte is a character). So the offsets whose top byte could belong to a length (at most
    ``total >> 24``, which text bytes rarely are) come in short runs that end at a real item head
    (the one to three offsets before a head read the length's low bytes as their high bytes).
    The last offset of every run whose u32 is at most the chunk size is guessed to be a head; so
    is a zero length just before a guessed head (an empty item, whose zero bytes run into the
    next head's run), found from the few heads preceded by a zero byte. The guess is kept only
    if it is exactly the chain: the first head at 4, each item ending where the next begins,
    the last at the end. A parse from offset 4 is unique, so a kept guess is the parse;
    otherwise (binary payloads) the caller walks the items.

    One contiguous byte comparison, a shift and one ``flatnonzero`` find the runs' ends; only
    those few offsets are read as u32 (far cheaper than a u32 at every offset).
    """
    total = len(data)
    npos = total - 7  # offsets 4 .. total - 4 can hold a length; index i is offset 4 + i
    if npos <= 0 or total > _GUESS_MAX:
        return None
    small = np.frombuffer(data, np.uint8, npos, 7) <= (total >> 24)
    last = np.empty(npos, dtype=bool)  # small, and the next offset is not
    np.greater(small[:-1], small[1:], out=last[:-1])
    last[-1] = small[-1]
    cand = np.flatnonzero(last)
    if len(cand) > 8 * n:
        return None
    u32 = np.ndarray((npos,), "<u4", data, 4, (1,))
    heads = cand[u32[cand] <= total]
    before = np.frombuffer(data, np.uint8, npos, 3)  # before[i]: the byte just before offset 4 + i
    empties = []
    prev = heads[heads >= 4]
    while prev.size:  # runs of empty items, one item back per round
        prev = prev[before[prev] == 0]
        prev = prev[(u32[prev - 4] == 0) & (u32[prev - 3] <= total)] - 4
        empties.append(prev)
        prev = prev[prev >= 4]
    found = np.concatenate(empties) if empties else heads[:0]
    if found.size:
        found = np.unique(found)
        heads = np.insert(heads, np.searchsorted(heads, found), found)
    if len(heads) != n or heads[0] != 0:
        return None
    ends = heads + 8
    ends += u32[heads]
    if ends[-1] != total or (ends[:-1] != heads[1:] + 4).any():
        return None
    return ends


def _locate(data: bytes, n: int, codec: str) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)``: the payload offsets of every item (see :func:`unpack_frames`)."""
    ends = None
    if n > _SMALL:
        ends = _chain_same_length(data, n)
        if ends is None:
            ends = _chain_guess(data, n)
    if ends is None:
        ends = np.frombuffer(_chain(data, n, codec), dtype=np.int64) if n else np.zeros(0, np.int64)
    lens = np.diff(ends, prepend=4)
    lens -= 4
    return ends - lens, ends


def unpack_frames(data: Any, count: int | None, codec: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Check and locate the items of a vlen-framed buffer.

    Returns ``(data, starts, ends)``: the input as ``bytes`` and, for each item, the byte offsets
    of its payload (``data[starts[i]:ends[i]]``). ``count`` is the number of items the caller
    expects (the chunk's element count), or None to take the header's word for it.

    Raises
    ------
    CorruptChunkError
        For a missing header, a count other than ``count`` or too large for the input, a length
        running past the end, or trailing bytes.
    """
    data, n = _header(data, count, codec)
    return (data, *_locate(data, n, codec))


def _spans_few(data: bytes, n: int, codec: str) -> zip:
    """``(start, end)`` of each of a handful of items, without numpy."""
    ends = _chain(data, n, codec).tolist()
    return zip([e + 4 for e in [4, *ends[:-1]]], ends)


def _utf8_error(codec: str, item: int, reason: str) -> CorruptChunkError:
    return CorruptChunkError(f"codec {codec!r}: item {item} is not valid UTF-8 ({reason})")


#: separator bytes tried, in order, to split all items at once: ASCII (so a separator is one
#: character of the decoded text and never joins a neighbouring multi-byte character)
_SEPARATORS_TEXT = (0x00, 0x01, 0x1F, 0x7F)
_SEPARATORS_BYTES = (0x00, 0xFF, 0x01, 0xFE)


def _split(data: bytes, starts: np.ndarray, text: bool) -> list | None:
    """All items at once, or None if no separator candidate is free (or the text is invalid).

    The length prefixes of a copy of ``data`` are overwritten by four copies of a byte value that
    occurs in no payload; runs of it are then exactly the prefixes, and one ``split`` (after one
    UTF-8 decode of everything) yields every item at C speed.
    """
    buf = bytearray(data)
    u8 = np.frombuffer(buf, np.uint8)
    prefixes = np.ndarray((len(buf) - 3,), "<u4", buf, 0, (1,))  # a u32 at every offset
    heads = starts - 4
    want = 4 * starts.size
    for b in _SEPARATORS_TEXT if text else _SEPARATORS_BYTES:
        prefixes[heads] = b * 0x01010101  # four bytes b
        if np.count_nonzero(u8[4:] == b) == want:
            sep = b.to_bytes(1, "little")
            break
    else:
        return None
    body = memoryview(buf)[4:]
    items: list[str] | list[bytes]
    if text:
        try:
            items = str(body, "utf-8").split(sep.decode("ascii") * 4)
        except UnicodeDecodeError:
            return None  # the item-by-item path names the bad item
    else:
        items = bytes(body).split(sep * 4)
    del items[0]  # the empty text before the first prefix
    return items


def _decode_items(data: bytes, n: int, codec: str, text: bool) -> list:
    """The items of a checked header's buffer, in Python (the reference decoder)."""
    if n <= _SMALL:
        spans = _spans_few(data, n, codec)
    else:
        starts, ends = _locate(data, n, codec)
        items = _split(data, starts, text)
        if items is not None:
            return items
        spans = zip(starts.tolist(), ends.tolist())
    if not text:
        return [data[a:b] for a, b in spans]
    items = []
    for i, (a, b) in enumerate(spans):
        try:
            items.append(data[a:b].decode("utf-8"))
        except UnicodeDecodeError as e:
            raise _utf8_error(codec, i, e.reason) from None
    return items


def unpack_items(data: Any, count: int | None, codec: str, text: bool) -> list | np.ndarray:
    """The items of a vlen-framed buffer: ``str`` (``text``) or ``bytes``, in a list or a 1-d
    object array (checks as :func:`unpack_frames`; invalid UTF-8 names the item).

    Chunks of more than a few items go to numcodecs' compiled decoder when it is installed
    (:func:`c_vlen`; the framing is checked as strictly, see :func:`_c_decode`), else, and for
    any chunk it refuses, to the Python decoder: the same items or the same error either way.
    """
    data, n = _header(data, count, codec)
    if n > _SMALL:
        items = _c_decode(data, n, text)
        if items is not None:
            return items
    return _decode_items(data, n, codec, text)


def unpack_utf8(data: Any, count: int | None = None, codec: str = "vlen-utf8") -> list:
    """Decode a vlen-framed buffer to a list of ``str`` (see :func:`unpack_frames` for checks).

    Invalid UTF-8 raises :class:`~zarrsync.errors.CorruptChunkError` naming the item.

    Example
    -------
    >>> unpack_utf8(bytes.fromhex("03000000010000006102000000c3a900000000"))
    ['a', 'é', '']
    """
    items = unpack_items(data, count, codec, text=True)
    return items if isinstance(items, list) else items.tolist()


def unpack_bytes(data: Any, count: int | None = None, codec: str = "vlen-bytes") -> list:
    """Decode a vlen-framed buffer to a list of ``bytes`` (see :func:`unpack_frames` for checks)."""
    items = unpack_items(data, count, codec, text=False)
    return items if isinstance(items, list) else items.tolist()


# --- the v3 codecs ---------------------------------------------------------------------------

def object_array(items: list | np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A 1-d object array holding ``items`` (never nested: a list item stays one element); a
    1-d object array is returned as it is."""
    if isinstance(items, np.ndarray) and items.dtype == object and items.ndim == 1:
        out = items
    else:
        out = np.empty(len(items), dtype=object)
        out[:] = items
    return out if shape is None else out.reshape(shape)


def _to_dtype(items: list | np.ndarray, dtype: np.dtype, shape: tuple[int, ...], codec: str) -> np.ndarray:
    """The decoded items as an array of the chunk's ``dtype`` and ``shape``."""
    kind = dtype.kind
    if kind == "T":  # straight from the list: a third faster than through an object array
        return np.array(items, dtype=dtype).reshape(shape)
    out = object_array(items)
    if kind == "O":
        return out.reshape(shape)
    # fixed size: every item must fit (numpy would cut it silently)
    width = dtype.itemsize // (4 if kind == "U" else 1)
    longest = max(map(len, items), default=0)
    if longest > width:
        raise CorruptChunkError(f"codec {codec!r}: an item of {longest} {'characters' if kind == 'U' else 'bytes'} "
                                f"does not fit the data type {dtype}")
    return out.astype(dtype).reshape(shape)


def _place(items: list | np.ndarray, dtype: np.dtype, dest: np.ndarray, codec: str) -> None:
    """Write the decoded items into ``dest`` (C order). Object and ``StringDType`` destinations
    take the list itself (no intermediate array) where a flat view of ``dest`` exists."""
    if dtype.kind in "OT" and (dest.ndim == 1 or dest.flags.c_contiguous):
        dest.reshape(-1)[...] = items  # a view: 1-d, or contiguous
    else:
        dest[...] = _to_dtype(items, dtype, dest.shape, codec)


class _VLen(ArrayBytesCodec):
    #: numpy dtype kinds the codec encodes and decodes
    kinds: ClassVar[str]
    #: what it stores, for error messages
    what: ClassVar[str]
    #: items are text (``str``), else ``bytes``
    text: ClassVar[bool]

    def load_accelerator(self) -> None:
        c_vlen()

    def decode(self, data, spec: ChunkSpec) -> np.ndarray:
        return _to_dtype(unpack_items(data, spec.size, self.name, self.text), spec.dtype, spec.shape, self.name)

    def decode_to(self, data, spec: ChunkSpec, dest: np.ndarray) -> None:
        _place(unpack_items(data, spec.size, self.name, self.text), spec.dtype, dest, self.name)

    def to_config(self) -> dict:
        return {}  # zarr-python writes (and some versions require) an empty configuration

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        if spec.dtype.kind not in self.kinds:
            raise CodecError(f"codec {self.name!r} stores {self.what}; it cannot be used with the data type "
                             f"{spec.dtype}")
        return spec

    def _flat(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        if chunk.shape != spec.shape:
            raise CodecError(f"codec {self.name!r}: a chunk of shape {chunk.shape} was given for the shape "
                             f"{spec.shape}")
        return chunk.reshape(-1)  # C order (a copy for other layouts)


@dataclasses.dataclass(frozen=True)
class VLenUTF8Codec(_VLen):
    """``vlen-utf8``: strings as u32le length + UTF-8 bytes each, after a u32le count."""

    name = "vlen-utf8"
    kinds = "OTU"
    what = "strings"
    text = True

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytearray:
        return pack_utf8(self._flat(chunk, spec), self.name)


@dataclasses.dataclass(frozen=True)
class VLenBytesCodec(_VLen):
    """``vlen-bytes``: byte strings as u32le length + bytes each, after a u32le count."""

    name = "vlen-bytes"
    kinds = "OS"
    what = "byte strings"
    text = False

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytearray:
        return pack_bytes(self._flat(chunk, spec), self.name)
