"""Pairs of shapes for training deep functional maps: which pairs each epoch, and the sampler
that feeds them through the streaming DataLoader.

Epoch e of a run with seed s draws ``n_pairs`` pairs (A, B) from ``n`` training shapes: the first
shapes run through ``torch.randperm(n)`` seeded with ``s + e`` (several permutations end to end
when more pairs than shapes are asked for), so with ``n_pairs = n`` every shape is the first shape
of one pair; each partner is drawn uniformly among the other ``n - 1`` shapes by a numpy generator
seeded with ``(s, e)``. The draw depends on nothing else, so a run is reproducible and a resumed
run continues with the pairs the interrupted one would have seen.

:class:`PairSampler` yields the shapes of the epoch's pairs flattened, ``A_0, B_0, A_1, B_1, ...``,
so a DataLoader with a batch of ``2 P`` items reads P pairs (:func:`as_pairs` splits them again).
Under DDP rank r of N takes every N-th pair, starting at the r-th; the epoch's pair count is first
rounded up to a multiple of N by repeating its first pairs (as DistributedSampler does).
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["epoch_pairs", "PairSampler", "as_pairs", "validation_pairs"]


def epoch_pairs(n: int, n_pairs: int, seed: int, epoch: int) -> np.ndarray:
    """The pairs (first, partner) of ``epoch``, indices into ``n`` shapes.

    Parameters
    ----------
    n : int
        Number of shapes (at least 2).
    n_pairs : int
        Pairs to draw.
    seed, epoch : int

    Returns
    -------
    (n_pairs, 2) int64 array; no pair holds the same shape twice.
    """
    if n < 2:
        raise ConfigError(f"pairs need at least two training shapes (got {n}); add shapes or lower --val-fraction")
    g = torch.Generator()
    g.manual_seed(int(seed) + int(epoch))
    rounds = math.ceil(n_pairs / n)
    first = torch.cat([torch.randperm(n, generator=g) for _ in range(rounds)])[:n_pairs].numpy()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch)]))
    partner = rng.integers(0, n - 1, size=n_pairs)
    partner = partner + (partner >= first)  # skip the first shape itself
    return np.stack([first, partner], axis=1).astype(np.int64)


class PairSampler(torch.utils.data.Sampler):
    """The shapes of an epoch's pairs, flattened (A_0, B_0, A_1, B_1, ...); this rank's share.

    Parameters
    ----------
    n : int
        Shapes in the dataset sampled from.
    n_pairs : int
        Pairs per epoch, across all ranks.
    seed : int
    rank, world : int
        This process and the number of processes. default: 0, 1
    """

    def __init__(self, n: int, n_pairs: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if int(n_pairs) < 1:
            raise ConfigError(f"an epoch needs at least one pair (got {n_pairs})")
        if n < 2:
            raise ConfigError(
                f"pairs need at least two training shapes (got {n}); add shapes or lower --val-fraction"
            )
        self.n, self.n_pairs, self.seed = int(n), int(n_pairs), int(seed)
        self.rank, self.world = int(rank), int(world)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def pairs(self) -> np.ndarray:
        """(P, 2): this rank's pairs of the current epoch."""
        every = epoch_pairs(self.n, self.n_pairs, self.seed, self.epoch)
        total = math.ceil(self.n_pairs / self.world) * self.world
        if total > self.n_pairs:
            every = np.concatenate([every, every[: total - self.n_pairs]])
        return every[self.rank :: self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self.pairs().reshape(-1).tolist())

    def __len__(self) -> int:
        return 2 * math.ceil(self.n_pairs / self.world)


def as_pairs(items: Sequence) -> list[tuple]:
    """A batch read in :class:`PairSampler`'s order -> its pairs ``[(A_0, B_0), (A_1, B_1), ...]``."""
    if len(items) % 2:
        raise ConfigError(f"a batch of pairs holds an even number of shapes (got {len(items)})")
    return list(zip(items[0::2], items[1::2]))


def validation_pairs(n: int) -> np.ndarray:
    """Fixed pairs of ``n`` held-out shapes: shape i with shape i + 1 (the last with the first),
    so every shape appears once on each side; (0, 2) when ``n < 2``."""
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    i = np.arange(n)
    return np.stack([i, (i + 1) % n], axis=1).astype(np.int64)
