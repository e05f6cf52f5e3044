"""The SASRec network and its training loop (PyTorch); imported only by ``models.sasrec`` when a model
is fitted, loaded or scored, so that xingqu imports without torch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class CausalAttention(nn.Module):
    """Multi-head self-attention in which a position sees only itself and earlier positions."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, length, hidden = x.shape
        w, bias = self.qkv.weight, self.qkv.bias
        query = F.linear(q, w[:hidden], bias[:hidden])
        key, value = F.linear(x, w[hidden:], bias[hidden:]).chunk(2, dim=-1)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, length, self.heads, hidden // self.heads).transpose(1, 2)

        a = F.scaled_dot_product_attention(
            split(query),
            split(key),
            split(value),
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=True,
        )
        return self.out(a.transpose(1, 2).reshape(b, length, hidden))


class Net(nn.Module):
    """Item and learned position embeddings, ``blocks`` causal self-attention blocks (pre-norm attention,
    then a point-wise feed-forward layer, residuals around both, as in Kang & McAuley 2018)."""

    def __init__(self, n_items: int, hidden: int, blocks: int, heads: int, max_len: int, dropout: float):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, hidden, padding_idx=0)  # index 0: padding
        self.pos = nn.Embedding(max_len, hidden)
        self.drop = nn.Dropout(dropout)
        self.attn_norm = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks))
        self.attn = nn.ModuleList(CausalAttention(hidden, heads, dropout) for _ in range(blocks))
        self.ffn_norm = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks))
        self.ffn = nn.ModuleList(
            nn.Sequential(
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, hidden),
                nn.Dropout(dropout),
            )
            for _ in range(blocks)
        )
        self.last_norm = nn.LayerNorm(hidden, eps=1e-8)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """(batch × L) item indices + 1, left-padded with 0 → (batch × L × hidden) states."""
        length = seq.shape[1]
        x = self.item(seq) * self.item.embedding_dim**0.5
        x = self.drop(x + self.pos.weight[-length:])
        keep = (seq > 0).unsqueeze(-1)
        x = x * keep
        for norm, attn, ffn_norm, ffn in zip(self.attn_norm, self.attn, self.ffn_norm, self.ffn, strict=True):
            q = norm(x)
            x = ffn_norm(q + attn(q, x))
            x = (x + ffn(x)) * keep
        return self.last_norm(x)

    def last_states(self, seq: torch.Tensor) -> torch.Tensor:
        """The state at the last position of each sequence: the user's representation."""
        return self.forward(seq)[:, -1, :]


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads (fixed, so results repeat), restoring the setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build(n_items: int, c: Any) -> Net:
    return Net(n_items, c.hidden, c.blocks, c.heads, c.max_len, c.dropout)


def train(
    n_items: int,
    c: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    owners: np.ndarray,
    seen: np.ndarray,
) -> dict[str, np.ndarray]:
    """Fit on (rows × max_len) left-padded ``inputs`` (item index + 1) and their next items
    ``targets`` (0: no target), with binary cross-entropy on each position's next item against one
    sampled item the row's user (``owners``) never touched (``seen``: sorted keys user × n_items +
    item). Returns the weights as named arrays."""
    rng = np.random.default_rng(c.seed)
    with torch.random.fork_rng(devices=[]), threads(c.threads):
        torch.manual_seed(c.seed)
        net = build(n_items, c)
        opt = torch.optim.Adam(net.parameters(), lr=c.learning_rate, betas=(0.9, 0.98))
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        net.train()
        for _ in range(c.epochs):
            for rows in np.array_split(rng.permutation(len(inputs)), max(1, -(-len(inputs) // c.batch))):
                pos = targets[rows]
                neg = negatives(rng, owners[rows], pos, seen, n_items)
                h = net(torch.from_numpy(inputs[rows]))
                mask = torch.from_numpy(pos > 0)
                p = (h * net.item(torch.from_numpy(pos))).sum(-1)[mask]
                q = (h * net.item(torch.from_numpy(neg))).sum(-1)[mask]
                loss = (loss_fn(p, torch.ones_like(p)) + loss_fn(q, torch.zeros_like(q))) / max(len(p), 1)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def negatives(
    rng: np.random.Generator, users: np.ndarray, pos: np.ndarray, seen: np.ndarray, n_items: int
) -> np.ndarray:
    """One random item (index + 1) per position that the row's user never touched (a few redraws; a
    user who touched nearly everything may keep a seen one)."""
    neg = rng.integers(0, n_items, pos.shape)
    for _ in range(5):
        keys = users[:, None] * n_items + neg
        at = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
        clash = seen[at] == keys
        if not clash.any():
            break
        neg[clash] = rng.integers(0, n_items, int(clash.sum()))
    return (neg + 1).astype(np.int64)


def scores(net: Net, seqs: np.ndarray, n: int) -> np.ndarray:
    """(rows × n_items) scores: each sequence's last state times every item's embedding."""
    net.eval()
    with torch.no_grad():
        h = net.last_states(torch.from_numpy(seqs))
        return (h @ net.item.weight[1 : n + 1].T).numpy()


def load(n_items: int, c: Any, weights: dict[str, np.ndarray]) -> Net:
    net = build(n_items, c)
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()})
    net.eval()
    return net
