"""Running a snippet under file permissions, even when the tests run as root.

Root ignores `chmod 000`, so a test of an unreadable file would pass for the wrong reason. As
root, the child drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its capability bounding
set before exec, after which permissions apply to it like to anyone else.
"""

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (repo on the path) that file permissions bind."""
    drop = _drop_file_capabilities if os.geteuid() == 0 else None
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=drop,
        )
    except subprocess.SubprocessError as exc:
        pytest.skip(f"running as root and cannot drop the file-access capabilities ({exc})")


def unreadable_file(folder: Path, name: str, text: str) -> Path:
    """A file with mode 000 in folder."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o000)
    return path
