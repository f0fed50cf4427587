"""Writing files so that a crash leaves either the old file or the new one, never half of one."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write on a temporary file beside path, make it durable, then rename it over path.

    The temporary file lives in the same folder because rename across filesystems fails
    (EXDEV). On any error the temporary file is removed and the old path is left untouched.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete temporary files that a killed writer of folder/name left behind."""
    for stale in folder.glob(f".{name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
