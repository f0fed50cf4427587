"""Training in several processes with DistributedDataParallel, as torchrun launches it.

torchrun starts one process per device and tells each who it is in the environment: RANK
(0 to WORLD_SIZE - 1 over all machines), LOCAL_RANK (its number on this machine), WORLD_SIZE,
MASTER_ADDR and MASTER_PORT. Rank 0 speaks for the run: it reads the settings and the control
requests and writes events and checkpoints. The other ranks train on batches of their own and
follow rank 0's decisions, which reach them once per step, so every rank enters every
collective at the same step and none is left waiting in one.

`Group` is a process on its own, where every collective is the identity; `TorchrunGroup` is
one of torchrun's processes. The trainer talks to either without asking which.
"""

import hashlib
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from data.errors import MinigptError, RunError, SettingsError
from engine.control import COMMANDS
from engine.device import pick_device

log = logging.getLogger(__name__)

T = TypeVar("T")

# Requests travel as COMMAND_SLOTS small integers per rank and step; more wait for the next.
COMMAND_SLOTS = 8
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


class PeerFailed(RunError):
    """Setting up failed on some rank; rank 0 prints why, the others just exit."""


def stream_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of a rank's random stream; rank 0 at step 0 keeps seed itself.

    So a one-process run under torchrun draws what a plain run draws, and every other rank (or
    a rank that starts afresh at a later step, after a resume on more processes) gets a stream
    of its own, derived only from (seed, rank, step).
    """
    if rank == 0 and step == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}/{rank}/{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # torch seeds must fit in an int64


class Group:
    """One process training alone: rank 0 of 1, every collective the identity."""

    rank = 0
    local_rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        """Whether this rank reads requests and writes the run directory."""
        return self.rank == 0

    def device_for(self, name: str) -> torch.device:
        """The device this rank trains on, for the setting train.device = name."""
        return pick_device(name)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to run training steps through (DDP's wrapper across processes)."""
        return model

    def no_sync(self, net: nn.Module, last_micro_step: bool) -> AbstractContextManager[Any]:
        """Skip the gradient all-reduce on every micro-step but the last one of a step."""
        return nullcontext()

    def mean(self, *values: float) -> list[float]:
        """Each value averaged over all ranks."""
        return list(values)

    def exchange(self, commands: list[str]) -> list[str]:
        """Every rank's requests, rank 0's first: the same list on every rank."""
        return commands

    def gather(self, value: T) -> list[T]:
        """Every rank's value, in rank order (a small picklable object)."""
        return [value]

    def share(self, make: Callable[[], T]) -> T:
        """make() run on rank 0; its result, or its error, on every rank."""
        return make()

    def agree(self, make: Callable[[], T]) -> T:
        """make() run on every rank; if it failed on any, an error on all of them."""
        return make()

    def close(self, finished: bool = True) -> None:
        """Leave the group; finished means this rank got to the end of its run normally."""


class TorchrunGroup(Group):
    """One of the processes torchrun started, joined to the others by torch.distributed."""

    def __init__(self, rank: int, local_rank: int, world_size: int) -> None:
        self.rank, self.local_rank, self.world_size = rank, local_rank, world_size
        self._queued: list[str] = []

    @classmethod
    def join(cls) -> "TorchrunGroup":
        """Join the group torchrun set up; a RunError if its environment is unusable."""
        try:
            rank, local_rank, world_size = (int(os.environ[n]) for n in TORCHRUN_VARIABLES)
        except (KeyError, ValueError):
            values = ", ".join(f"{n}={os.environ.get(n)!r}" for n in TORCHRUN_VARIABLES)
            raise RunError(f"torchrun's environment is unusable ({values})") from None

        # gloo carries CPU tensors and the small objects; NCCL the gradients on GPUs
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        try:
            dist.init_process_group(backend)
        except (RuntimeError, ValueError) as exc:
            raise RunError(
                f"rank {rank} cannot join the other {world_size - 1} processes ({_first_line(exc)})"
            ) from None
        return cls(rank, local_rank, world_size)

    def device_for(self, name: str) -> torch.device:
        """The CPU, or the GPU numbered LOCAL_RANK when train.device allows CUDA."""
        if name == "mps":
            raise SettingsError(
                "train.device = 'mps': DistributedDataParallel cannot train on Apple GPUs; "
                "use train.device=cpu under torchrun"
            )
        if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise SettingsError(f"train.device = {name!r}: no CUDA device is available here")

        # `cuda:N` names one GPU for one process; under torchrun each rank takes its own
        count = torch.cuda.device_count()
        if self.local_rank >= count:
            raise SettingsError(
                f"rank {self.rank} is process {self.local_rank} on its machine, which has "
                f"only {count} CUDA devices: start at most {count} (--nproc_per_node)"
            )
        if name not in ("auto", "cuda", f"cuda:{self.local_rank}"):
            log.info("train.device = %r: rank %d uses cuda:%d", name, self.rank, self.local_rank)
        device = torch.device("cuda", self.local_rank)
        torch.cuda.set_device(device)
        return device

    def wrap(self, model: nn.Module) -> nn.Module:
        # DDP copies rank 0's weights to every rank here, and all-reduces gradients from now on
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def no_sync(self, net: nn.Module, last_micro_step: bool) -> AbstractContextManager[Any]:
        if last_micro_step or not isinstance(net, DistributedDataParallel):
            return nullcontext()
        return net.no_sync()

    def mean(self, *values: float) -> list[float]:
        total = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(total)
        return (total / self.world_size).tolist()

    def exchange(self, commands: list[str]) -> list[str]:
        self._queued += commands
        mine, self._queued = self._queued[:COMMAND_SLOTS], self._queued[COMMAND_SLOTS:]
        codes = torch.zeros(COMMAND_SLOTS, dtype=torch.int32)
        codes[: len(mine)] = torch.tensor([COMMANDS.index(c) + 1 for c in mine], dtype=torch.int32)
        every = [torch.empty_like(codes) for _ in range(self.world_size)]
        dist.all_gather(every, codes)
        return [COMMANDS[code - 1] for row in every for code in row.tolist() if code]

    def gather(self, value: T) -> list[T]:
        every: list[Any] = [None] * self.world_size
        dist.all_gather_object(every, value)
        return every

    def share(self, make: Callable[[], T]) -> T:
        payload: list[Any] = [None]
        error: MinigptError | None = None
        if self.is_main:
            try:
                payload = [(make(), None)]
            except MinigptError as exc:
                error, payload = exc, [(None, str(exc))]
        dist.broadcast_object_list(payload, src=0)
        value, message = payload[0]
        if error is not None:
            raise error
        if message is not None:
            raise PeerFailed(message)
        return value

    def agree(self, make: Callable[[], T]) -> T:
        value: Any = None
        error: MinigptError | None = None
        try:
            value = make()
        except MinigptError as exc:
            error = exc
        mine = (str(error) or type(error).__name__) if error is not None else None
        failed = [(r, m) for r, m in enumerate(self.gather(mine)) if m is not None]
        if not failed:
            return value
        if not self.is_main:
            raise PeerFailed(failed[0][1])
        if error is not None:
            raise error
        rank, message = failed[0]
        more = f" (and {len(failed) - 1} more ranks)" if len(failed) > 1 else ""
        raise RunError(f"rank {rank}: {message}{more}")

    def close(self, finished: bool = True) -> None:
        if not dist.is_initialized():
            return

        # A rank that tears its connections down while another still uses its own can be
        # aborted by gloo ("terminate called without an active exception", about one run in
        # ten here), so ranks that finished wait for each other. One that failed does not
        # wait: the others may never come, and torchrun stops them anyway.
        if finished:
            try:
                dist.barrier()
            except (RuntimeError, ValueError) as exc:
                log.info("rank %d: leaving without the others (%s)", self.rank, _first_line(exc))
        dist.destroy_process_group()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else type(exc).__name__
