"""Device choice and optional multi-process data parallelism (``torchrun``: NCCL on CUDA, gloo on CPU)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Runtime:
    """Where this process trains: ``rank`` of ``world_size`` processes on ``device``; ``amp_dtype`` is None on CPU."""

    device: torch.device
    rank: int
    world_size: int
    amp_dtype: torch.dtype | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> Runtime:
    """Pick CUDA (with bf16/fp16 autocast) when present, else CPU; join the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
        amp: torch.dtype | None = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dev, amp = torch.device("cpu"), None
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Runtime(dev, rank, world_size, amp)


def teardown() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(values: dict[str, float], rt: Runtime) -> dict[str, float]:
    """Average scalar metrics over processes (identity for a single process)."""
    if rt.world_size == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=rt.device)
    dist.all_reduce(t)
    return {k: float(v) / rt.world_size for k, v in zip(keys, t.tolist())}
