"""SASRec (Kang & McAuley 2018): a self-attentive sequential model. Each user's items in time order go
through causal self-attention blocks; the state at the last position, times an item's embedding, scores
that item as the user's next. Trained with binary cross-entropy on each position's next item against
one sampled unseen item, with Adam. Needs PyTorch (the ``seq`` extra), imported only when used."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.dataset import Dataset
from xingqu.models.base import ModelConfig, ModelError, Recommender

EXTRA = "pip install 'xingqu[seq]'"


def net_module() -> ModuleType:
    """The torch part (``models._sasrec_net``), or a ModelError naming the extra to install."""
    try:
        from xingqu.models import _sasrec_net
    except ImportError as exc:
        raise ModelError(f"sasrec needs PyTorch ({exc}); install it with {EXTRA}") from None
    return _sasrec_net


class SASRecConfig(ModelConfig):
    hidden: int = Field(64, ge=4, description="width of item embeddings and hidden states")
    blocks: int = Field(2, ge=1, description="self-attention blocks")
    heads: int = Field(1, ge=1, description="attention heads (must divide hidden)")
    max_len: int = Field(50, ge=2, description="newest items of a user's sequence that are read")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout on embeddings, attention and feed-forward")
    epochs: int = Field(30, ge=1, description="passes over every user's sequence")
    learning_rate: float = Field(0.01, gt=0, description="Adam's step size")
    batch: int = Field(128, ge=1, description="sequences per step")
    seed: int = Field(0, description="seeds initial weights, dropout, order and negative samples")
    threads: int = Field(1, ge=1, description="torch threads while training and scoring (fixed: repeatable)")


class SASRec(Recommender):
    kind = "sasrec"
    Config = SASRecConfig
    grid = ({"dropout": 0.2}, {"dropout": 0.5})
    phrase = "what usually comes next after your latest views"
    reads_weights = False

    def _fit_data(self, data: Dataset) -> None:
        c = self.config
        if c.hidden % c.heads:
            raise ModelError(f"sasrec: heads={c.heads} must divide hidden={c.hidden}")
        net = net_module()
        indptr, items = sequences(data)
        inputs, targets, owners = windows(indptr, items, c.max_len)
        m = data.matrix.tocoo()
        seen = np.unique(m.row.astype(np.int64) * data.n_items + m.col)
        weights = net.train(data.n_items, c, inputs, targets, owners, seen)
        self.net = net.load(data.n_items, c, weights)
        self.seq_indptr, self.seq_items = sequences(data, c.max_len)  # what scoring reads

    def sequence_rows(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """(rows × max_len) left-padded item indices + 1: the user's training sequence restricted to the
        items of their history row, then the row's items the model never saw for the user (events since
        training, or an unknown user) as the newest, in index order."""
        width = self.config.max_len
        h = sp.csr_matrix(history)
        out = np.zeros((h.shape[0], width), dtype=np.int64)
        for b in range(h.shape[0]):
            lo, hi = h.indptr[b], h.indptr[b + 1]
            cols = h.indices[lo:hi][h.data[lo:hi] > 0]
            u = int(users[b])
            stored = (
                self.seq_items[self.seq_indptr[u] : self.seq_indptr[u + 1]]
                if 0 <= u < len(self.seq_indptr) - 1
                else np.zeros(0, np.int32)
            )
            seq = np.r_[stored[np.isin(stored, cols)], np.sort(cols[~np.isin(cols, stored)])][-width:]
            if len(seq):
                out[b, width - len(seq) :] = seq.astype(np.int64) + 1
        return out

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        seqs = self.sequence_rows(users, history)
        out = np.zeros((len(seqs), len(self._fitted_items())), dtype=np.float32)
        some = np.flatnonzero(seqs[:, -1] > 0)  # an empty sequence has nothing to go on: zeros
        if len(some):
            net = net_module()
            with net.threads(self.config.threads):
                out[some] = net.scores(self.net, seqs[some], out.shape[1])
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        weights = {f"net.{k}": v.detach().numpy() for k, v in self.net.state_dict().items()}
        return {"seq_indptr": self.seq_indptr, "seq_items": self.seq_items, **weights}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.seq_indptr = arrays.pop("seq_indptr").astype(np.int64)
        self.seq_items = arrays.pop("seq_items").astype(np.int32)
        weights: dict[str, Any] = {k[len("net.") :]: v for k, v in arrays.items() if k.startswith("net.")}
        self.net = net_module().load(len(self._fitted_items()), self.config, weights)


def sequences(data: Dataset, keep: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each user's items in time order (ties in the log's order; refunds and other non-positive
    interactions left out; an item repeated back to back once), the newest ``keep`` per user, as a
    ragged array: (indptr over users, items)."""
    log = data.log
    if log is None:
        raise ModelError("sasrec: needs interaction times (a dataset built from a log)")
    ok = log.weights > 0
    order = np.lexsort((np.arange(int(ok.sum())), log.times[ok], log.users[ok]))
    users, items = log.users[ok][order].astype(np.int64), log.items[ok][order].astype(np.int32)
    fresh = np.r_[True, (users[1:] != users[:-1]) | (items[1:] != items[:-1])]
    users, items = users[fresh], items[fresh]
    starts = np.searchsorted(users, np.arange(data.n_users))
    ends = np.searchsorted(users, np.arange(data.n_users), side="right")
    # position from the end of the user's sequence: keep the newest ``keep``
    from_end = np.repeat(ends, ends - starts) - np.arange(len(users))
    kept = from_end <= (keep or len(users))
    counts = np.bincount(users[kept], minlength=data.n_users)
    return np.r_[0, np.cumsum(counts)].astype(np.int64), items[kept]


def windows(indptr: np.ndarray, items: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows: each user's sequence cut from its end into windows of ``width`` + 1 items that
    overlap by one, so every (item, next item) pair is a target exactly once. Returns left-padded
    inputs and targets (item index + 1; 0: padding) and the user of each row."""
    inputs, targets, owners = [], [], []
    for u in np.flatnonzero(np.diff(indptr) >= 2):
        s = items[indptr[u] : indptr[u + 1]].astype(np.int64) + 1
        for end in range(len(s), 1, -width):
            w = s[max(0, end - width - 1) : end]
            row_in, row_out = np.zeros(width, np.int64), np.zeros(width, np.int64)
            row_in[width - len(w) + 1 :], row_out[width - len(w) + 1 :] = w[:-1], w[1:]
            inputs.append(row_in)
            targets.append(row_out)
            owners.append(u)
    if not inputs:
        raise ModelError("sasrec: no user has two items in sequence; nothing to learn from")
    return np.stack(inputs), np.stack(targets), np.array(owners, dtype=np.int64)
