"""Exported models give the PyTorch model's logits, and a failed export leaves nothing behind."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.errors import CheckpointError, MinigptError, RunError
from engine.checkpoint import save_checkpoint
from engine.export import (
    META_KEY,
    ExportError,
    export_model,
    load_pt2,
    load_safetensors,
)
from engine.loading import load_model
from engine.model import GPT, GPTConfig
from engine.run_dir import RunDir
from engine.settings import resolve
from tests.unprivileged import run_python

VOCAB = "\n !,.:?ABCDEFHILMNORSTYabcdefghiklmnoprstuvwy"
TINY = {
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16},
    "train": {"preset": "tutorial", "device": "cpu"},
}


def make_run(path: Path) -> RunDir:
    """A run directory whose checkpoint holds a small GPT with large, varied weights.

    Weights far from their initialisation give logits of several units, so a 1e-4 match is a
    real test of the exported graph rather than of near-zero outputs.
    """
    settings = resolve({}, TINY)
    torch.manual_seed(7)
    model = GPT(GPTConfig(vocab_size=len(VOCAB), **vars(settings.model)))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    run = RunDir(path)
    path.mkdir(parents=True)
    run.write_config(settings)
    save_checkpoint(
        run.checkpoint,
        {"model": model.state_dict(), "step": 42, "settings": settings.to_dict(), "vocab": VOCAB},
    )
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunDir:
    return make_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def pt2_file(run, tmp_path_factory) -> Path:
    return export_model(run.path, "pt2", tmp_path_factory.mktemp("pt2") / "model.pt2")


def _inputs(block_size: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shapes = [(1, 1), (1, 5), (3, block_size), (2, block_size - 1)]
    return [torch.randint(0, len(VOCAB), s, generator=g) for s in shapes]


def test_safetensors_round_trip(run, tmp_path):
    from safetensors import safe_open

    out = export_model(run.path, "safetensors", tmp_path / "m.safetensors")
    original = load_model(run.path).model
    loaded = load_safetensors(out)
    for idx in _inputs(16):
        torch.testing.assert_close(loaded.model(idx)[0], original(idx)[0], atol=1e-4, rtol=0)
    assert (loaded.step, loaded.tokenizer.vocab) == (42, VOCAB)

    # the metadata is plain JSON for any safetensors reader; the file has no pickle in it
    with safe_open(str(out), framework="pt") as f:
        facts = json.loads(f.metadata()[META_KEY])
    assert facts["vocab"] == VOCAB
    assert facts["config"] == {
        "vocab_size": len(VOCAB),
        "block_size": 16,
        "n_layer": 2,
        "n_head": 2,
        "n_embd": 32,
        "dropout": 0.0,
    }
    header = int.from_bytes(out.read_bytes()[:8], "little")
    assert out.read_bytes()[8:9] == b"{" and 8 + header < out.stat().st_size


def test_pt2_round_trip_with_a_dynamic_sequence_length(run, pt2_file):
    program, facts = load_pt2(pt2_file)
    module = program.module()
    original = load_model(run.path).model
    for idx in _inputs(16):
        torch.testing.assert_close(module(idx), original(idx)[0], atol=1e-4, rtol=0)
    assert json.loads(facts)["vocab"] == VOCAB

    # longer than the context the model was trained for: refused by the program's guard
    with pytest.raises((AssertionError, RuntimeError)):
        module(torch.zeros((1, 17), dtype=torch.long))


def test_export_refuses_bad_requests_before_doing_any_work(run, tmp_path):
    before = sorted(tmp_path.iterdir())
    cases = [
        (run.path, "gguf", tmp_path / "m.gguf", "unknown export format 'gguf'"),
        (run.path, "pt2", tmp_path, "is a folder"),
        (run.path, "pt2", tmp_path / "missing" / "m.pt2", "no such folder"),
        (run.path, "pt2", run.checkpoint / "m.pt2", "is not a folder"),
        (run.path, "safetensors", run.checkpoint, "is the run's own checkpoint.pt"),
        (run.checkpoint, "pt2", run.path / "events.jsonl", "is the run's own events.jsonl"),
    ]
    for source, fmt, out, message in cases:
        with pytest.raises(ExportError, match=message):
            export_model(source, fmt, out)
    assert sorted(tmp_path.iterdir()) == before
    assert load_model(run.path).step == 42  # the checkpoint is untouched


def test_export_needs_a_run_with_a_checkpoint(run, tmp_path):
    empty = RunDir(tmp_path / "new")
    empty.path.mkdir()
    empty.write_config(resolve({}, TINY))
    with pytest.raises(ExportError, match="no checkpoint.pt yet"):
        export_model(empty.path, "safetensors", tmp_path / "m.safetensors")
    with pytest.raises(RunError, match="not a run directory"):
        export_model(tmp_path, "safetensors", tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError):
        export_model(empty.config, "safetensors", tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_export_into_a_read_only_folder_is_refused(run, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run_python(
            "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))",
            "export",
            str(run.path),
            "--out",
            str(folder / "m.safetensors"),
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"minigpt-tui: error: {folder / 'm.safetensors'}: cannot write it "
        f"(no permission to write in {folder})\n"
    )
    assert list(folder.iterdir()) == []


def test_a_write_that_fails_midway_keeps_the_old_file(run, tmp_path):
    """A real failing write (the file-size limit) leaves the previous export untouched."""
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"previous export")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from engine.export import export_model\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "export_model(Path(sys.argv[1]), 'safetensors', Path(sys.argv[2]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(run.path), str(out)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ExportError" in result.stderr and "File too large" in result.stderr
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_safetensors_file_from_elsewhere_is_refused(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not exported by minigpt-tui"):
        load_safetensors(foreign)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    with pytest.raises(MinigptError, match="garbage.safetensors"):
        load_safetensors(garbage)
