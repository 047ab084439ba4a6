#!/usr/bin/env python3
"""Micro-benchmark: zarrsync's ``vlen-utf8`` codec against numcodecs' compiled ``VLenUTF8``.

usage: python3 benchmarks/vlen_strings.py [N ...]        (default: 100000 1000000)
env:   REPS (best of N calls, default 7), MIXES=ascii,mixed,accents (default all three)

One process, one chunk of N strings of 0..40 characters (seeded), per call, best of REPS:

  decode -> T    zarrsync ``VLenUTF8Codec.decode`` to numpy 2's StringDType, against what
                 zarr-python 3 does: numcodecs ``decode`` then ``astype(StringDType())``
  decode -> O    zarrsync decode to an object array, against numcodecs ``decode``
  encode T / O   zarrsync ``encode`` of a StringDType / object chunk, against numcodecs ``encode``
                 (zarr-python 3 hands numcodecs the StringDType array as is)

Mixes: ``ascii`` (letters and digits), ``accents`` (every character from Latin-1 / Greek /
CJK / emoji ranges, 1..4 UTF-8 bytes), ``mixed`` (a tenth of the strings carry one non-ASCII
character). A ratio above 1 means zarrsync is faster. Every pair of outputs is first checked
equal, so a fast wrong answer cannot win.
"""
import os
import sys
import timeit
from pathlib import Path

import numpy as np
from numcodecs import VLenUTF8

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # time this checkout, not an installed copy
from zarrsync.codecs.base import ChunkSpec
from zarrsync.codecs.vlen import VLenUTF8Codec

REPS = int(os.environ.get("REPS", "7"))
MIXES = os.environ.get("MIXES", "ascii,mixed,accents").split(",")
STRING = np.dtypes.StringDType()
ALNUM = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
WIDE = np.array(list("éüßøñçΩλπ中文字日本語") + ["\U0001F600", "\U0001F680"])


def make_strings(n: int, mix: str, seed: int = 0) -> list:
    """``n`` strings of 0..40 characters of the given mix (deterministic)."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 41, n)
    pool = WIDE if mix == "accents" else ALNUM
    chars = pool[rng.integers(0, len(pool), int(lens.sum()))]
    text = "".join(chars.tolist())
    cuts = np.concatenate([[0], np.cumsum(lens)]).tolist()
    out = [text[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    if mix == "mixed":
        for i in rng.choice(n, n // 10, replace=False).tolist():
            if out[i]:
                out[i] = out[i][:-1] + WIDE[i % len(WIDE)]
    return out


def best(fn) -> float:
    """The fastest of REPS calls, in seconds."""
    return min(timeit.repeat(fn, number=1, repeat=REPS))


def run(n: int, mix: str) -> list:
    items = make_strings(n, mix)
    as_obj = np.empty(n, dtype=object)
    as_obj[:] = items
    as_str = np.array(items, dtype=STRING)
    nc = VLenUTF8()
    ours = VLenUTF8Codec()
    spec_t = ChunkSpec((n,), np.dtype(STRING), "")
    spec_o = ChunkSpec((n,), np.dtype(object), "")
    data = bytes(nc.encode(as_obj))

    # correctness first: same bytes out, same strings back
    assert bytes(ours.encode(as_str, spec_t)) == data
    assert bytes(ours.encode(as_obj, spec_o)) == data
    assert (ours.decode(data, spec_t) == as_str).all()
    assert ours.decode(data, spec_o).tolist() == items
    assert nc.decode(data).tolist() == items

    rows = []

    def row(op, ours_fn, peer_fn):
        t_ours, t_peer = best(ours_fn), best(peer_fn)
        rows.append((n, mix, op, t_ours, t_peer, t_peer / t_ours))

    row("decode -> T", lambda: ours.decode(data, spec_t), lambda: nc.decode(data).astype(STRING))
    row("decode -> O", lambda: ours.decode(data, spec_o), lambda: nc.decode(data))
    row("encode T", lambda: ours.encode(as_str, spec_t), lambda: nc.encode(as_str))
    row("encode O", lambda: ours.encode(as_obj, spec_o), lambda: nc.encode(as_obj))
    return rows


def main(argv: list) -> None:
    sizes = [int(float(a)) for a in argv] or [100_000, 1_000_000]
    print(f"{'N':>8} {'mix':8} {'op':12} {'zarrsync ms':>12} {'numcodecs ms':>13} {'ratio':>6}")
    for n in sizes:
        for mix in MIXES:
            for n_, mix_, op, t_ours, t_peer, ratio in run(n, mix):
                print(f"{n_:>8} {mix_:8} {op:12} {1e3 * t_ours:12.2f} {1e3 * t_peer:13.2f} {ratio:6.2f}",
                      flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
