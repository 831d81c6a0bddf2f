"""Running one training script on several processes (``torchrun --nproc-per-node N``).

Under torchrun the environment holds ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each process
then joins a process group (gloo on CPU, nccl on CUDA), trains on its share of every global batch
(DistributedDataParallel averages the gradients), and only rank 0 writes files. Without torchrun
everything here degrades to a single process of rank 0.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

__all__ = ["DistInfo", "init_distributed", "shutdown_distributed", "all_reduce_sum", "barrier"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job: ``rank`` of ``world`` processes, and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1), else single process.

    On CUDA each process takes ``cuda:LOCAL_RANK`` and the nccl backend; elsewhere gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if world <= 1:
        return DistInfo(0, 1, dev)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    info = DistInfo(dist.get_rank(), dist.get_world_size(), dev)
    log.info("process %d of %d on %s", info.rank, info.world, dev)
    return info


def shutdown_distributed(info: DistInfo) -> None:
    """Leave the process group (no-op for a single process)."""
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum each value over all processes (returned unchanged for a single process)."""
    if not info.enabled:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op for a single process)."""
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
