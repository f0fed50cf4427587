"""The engine never pulls in the TUI, and the command line answers without loading torch."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def modules_after(code: str) -> set[str]:
    """The top-level modules loaded once code has run in a fresh interpreter."""
    report = "import sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_engine_and_data_load_neither_textual_nor_rich():
    engine_modules = sorted(p.stem for p in (REPO / "engine").glob("*.py") if p.stem != "__init__")
    data_modules = sorted(p.stem for p in (REPO / "data").glob("*.py") if p.stem != "__init__")
    imports = [f"import engine.{m}" for m in engine_modules]
    imports += [f"import data.{m}" for m in data_modules]
    loaded = modules_after("\n".join(imports))
    assert "torch" in loaded  # the imports really ran
    assert "textual" not in loaded and "rich" not in loaded
    assert "tui" not in loaded and "cli" not in loaded


def test_the_command_line_parser_loads_no_torch():
    """--help, --version and argument errors must answer at once, not after torch's 2 s."""
    loaded = modules_after("from cli.main import build_parser\nbuild_parser()")
    assert "torch" not in loaded and "textual" not in loaded
