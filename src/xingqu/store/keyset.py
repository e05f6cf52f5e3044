"""Where each id of a batch is among the known keys of a kind, when those are many.

``pc.is_in`` and ``pc.index_in`` build a hash table of their ``value_set`` on every call: checking
each batch of a file against a million known users hashed the million again per batch (0.25 s for
200,000 ids, most of a large import's validation). ``KeyIndex`` sorts the keys' 64-bit hashes once; a
batch then costs a hash of its own ids, a binary search and an exact comparison with the key found."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.store.lake import id_hashes

#: Below this many known keys, Arrow's own hash table is cheaper (measured for a batch of 100,000
#: ids: 11 ms against 15 ms among 100,000 keys, 136 ms against 19 ms among 1,000,000).
LARGE_KEYS = 131_072
#: Batches longer than this are looked up by their distinct values.
DISTINCT_FIRST = 4_096


class KeyIndex:
    """The hashes of known string keys (unique), sorted, for exact lookups of many batches. It keeps no
    reference to the keys (each lookup is handed them), so that it lives no longer than they do."""

    def __init__(self, keys: pa.Array) -> None:
        hashes = _hashes(keys)
        self.order = np.argsort(hashes)
        self.sorted = hashes[self.order]

    def find(self, values: pa.Array, keys: pa.Array) -> np.ndarray:
        """The position of each value among ``keys`` (those the index was built of), −1 where absent
        (nulls too): ``pc.index_in``. A long batch is looked up by its distinct values (a day's
        100,000 events name ~17,000 users)."""
        if len(values) <= DISTINCT_FIRST:
            return self._find(values, keys)
        coded = pc.dictionary_encode(values)
        found = np.append(self._find(coded.dictionary, keys), -1)  # the last: where a value is null
        return found[pc.fill_null(coded.indices, len(coded.dictionary)).to_numpy(zero_copy_only=False)]

    def _find(self, values: pa.Array, keys: pa.Array) -> np.ndarray:
        n = len(values)
        if n == 0 or len(self.sorted) == 0:
            return np.full(n, -1, np.int64)
        hashes = _hashes(values)
        asked = np.argsort(hashes)  # searched in order, each search starts where the last ended
        pos = np.empty(n, np.int64)
        pos[asked] = np.searchsorted(self.sorted, hashes[asked])
        pos = np.minimum(pos, len(self.sorted) - 1)
        hit = self.sorted[pos] == hashes
        at = self.order[pos]
        same = pc.fill_null(pc.equal(values, keys.take(pa.array(at))), False)
        same = same.to_numpy(zero_copy_only=False)
        out = np.where(hit & same, at, -1)
        # a hash shared with another key (a collision): asked of the keys themselves
        odd = np.flatnonzero(hit & ~same & ~_nulls(values))
        if odd.size:
            exact = pc.index_in(values.take(pa.array(odd)), value_set=keys)
            out[odd] = pc.fill_null(exact, -1).to_numpy(zero_copy_only=False)
        return out


_built: dict[int, tuple[weakref.ref[pa.Array], KeyIndex]] = {}
_lock = threading.Lock()


def _index(keys: pa.Array) -> KeyIndex:
    """The index of ``keys``, built once and dropped with that array."""
    key = id(keys)
    with _lock:
        entry = _built.get(key)
        index = entry[1] if entry is not None and entry[0]() is keys else None
    if index is None:
        index = KeyIndex(keys)
        with _lock:
            _built[key] = (weakref.ref(keys, lambda _ref, k=key, built=_built: built.pop(k, None)), index)
    return index


def index_in(values: pa.Array | pa.ChunkedArray, keys: pa.Array, large: int = LARGE_KEYS) -> pa.Array:
    """``pc.index_in(values, value_set=keys)`` (null where absent); against ``large`` keys or more,
    through a ``KeyIndex``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], keys.type)
    if len(keys) < large:
        return pc.index_in(values, value_set=keys)
    found = _index(keys).find(values, keys)
    return pa.array(found, mask=found < 0)


def is_known(values: pa.Array, keys: pa.Array, large: int = LARGE_KEYS) -> np.ndarray:
    """``pc.is_in(values, value_set=keys)`` as a bool array (nulls false); against ``large`` keys or
    more, through a ``KeyIndex``."""
    if len(keys) < large:
        return pc.fill_null(pc.is_in(values, value_set=keys), False).to_numpy(zero_copy_only=False)
    return _index(keys).find(values, keys) >= 0


def _hashes(values: pa.Array, chunk: int = 65_536) -> np.ndarray:
    """``id_hashes`` a slice at a time: its working arrays stay in cache (a million keys: 0.05 s, not
    0.12 s or more in one piece)."""
    parts = [id_hashes(values.slice(lo, chunk)) for lo in range(0, len(values), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def _nulls(values: pa.Array) -> np.ndarray:
    if values.null_count == 0:
        return np.zeros(len(values), dtype=bool)
    return pc.is_null(values).to_numpy(zero_copy_only=False)
