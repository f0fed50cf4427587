"""Choosing the device and the autocast context for it."""

import contextlib
from contextlib import AbstractContextManager

import torch

from data.errors import SettingsError


def pick_device(name: str) -> torch.device:
    """`auto` takes cuda, then mps, then cpu; an explicit name must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SettingsError(f"train.device = {name!r}: no CUDA device is available here")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise SettingsError(
            f"train.device = {name!r}: there are only "
            f"{torch.cuda.device_count()} CUDA devices (cuda:0 is the first)"
        )
    if name == "mps" and not torch.backends.mps.is_available():
        raise SettingsError("train.device = 'mps': no Apple GPU is available here")
    return torch.device(name)


def autocast(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA, where it roughly doubles matmul speed; full fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
