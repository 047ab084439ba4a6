"""``transpose``: an array -> array codec that permutes a chunk's axes.

JSON: ``{"name": "transpose", "configuration": {"order": [1, 0]}}``. ``order`` is an explicit
permutation of ``0..ndim-1`` (the old ``"C"``/``"F"`` strings are not accepted). Encoding is
``chunk.transpose(order)``; decoding applies the inverse permutation. Both are views: no copy
until the ``bytes`` codec lays the data out.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import CodecError
from .base import ArrayArrayCodec, ChunkSpec, check_config


@dataclasses.dataclass(frozen=True)
class TransposeCodec(ArrayArrayCodec):
    name = "transpose"
    is_fixed_size = True

    order: tuple[int, ...]

    def __post_init__(self):
        order = self.order
        if not isinstance(order, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in order):
            raise CodecError(f"codec 'transpose': order must be a list of integers, got {order!r}")
        if sorted(order) != list(range(len(order))):
            raise CodecError(f"codec 'transpose': order {list(order)} is not a permutation of 0..{len(order) - 1}")
        object.__setattr__(self, "order", tuple(order))

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"order"}, {"order"})
        return cls(config["order"])

    def to_config(self):
        return {"order": list(self.order)}

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        if len(self.order) != len(spec.shape):
            raise CodecError(f"codec 'transpose': order {list(self.order)} has {len(self.order)} axes, "
                             f"the chunk has {len(spec.shape)}")
        return dataclasses.replace(spec, shape=tuple(spec.shape[i] for i in self.order))

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return chunk.transpose(self.order)

    def decode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return chunk.transpose(np.argsort(self.order))

    def compute_encoded_size(self, nbytes: int, spec: ChunkSpec) -> int:
        return nbytes
