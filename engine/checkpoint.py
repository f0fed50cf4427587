"""Saving and loading checkpoints: atomically, and without unpickling code.

A checkpoint is a plain dict of tensors, numbers and strings, so `torch.load` can read it with
`weights_only=True`, which refuses a pickle that tries to run code.
"""

import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from data.errors import CheckpointError
from engine.atomic import atomic_write_bytes, remove_stale_temporaries

FORMAT = 1
REQUIRED = ("format", "model", "step", "settings", "vocab")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write state to path; a crash mid-write leaves the previous checkpoint as it was.

    The checkpoint is serialised in memory first: torch's zip writer turns a full disk into
    an opaque RuntimeError, while a plain file write raises OSError with the real reason.
    """
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    remove_stale_temporaries(path.parent, path.name)
    atomic_write_bytes(path, buffer.getbuffer())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at path, or a CheckpointError naming the file and what is wrong."""
    try:
        with warnings.catch_warnings():
            # torch warns about foreign pickles before refusing them; the refusal is enough
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint") from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {_refusal(path, exc)}") from None
    except Exception as exc:  # random bytes raise almost any type from inside torch.load
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({_short(exc)})") from None

    if not isinstance(state, dict) or any(key not in state for key in REQUIRED):
        raise CheckpointError(f"{path}: not a minigpt-tui checkpoint (keys missing)")
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']}, expected {FORMAT}")
    return state


def _refusal(path: Path, exc: pickle.UnpicklingError) -> str:
    """Why torch's safe unpickler refused path, in words that do not suggest turning it off.

    torch's own message says that loading with weights_only=False "will likely succeed": true,
    and exactly what a checkpoint that runs code wants.
    """
    if not zipfile.is_zipfile(path):
        return "not a checkpoint (torch.save writes a zip archive, and this file is not one)"
    wanted = re.search(r"GLOBAL (\S+)", str(exc))
    if wanted:
        return (
            f"refused: it would load {wanted.group(1)}, and a checkpoint may hold only tensors, "
            "numbers and strings"
        )
    return "refused: it holds objects other than tensors, numbers and strings"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
