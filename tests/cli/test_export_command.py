"""`minigpt-tui export`: files that load elsewhere, quiet exporters, one-line refusals."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli.main import main
from engine.api import load_text_model
from engine.export import META_KEY, onnx_available
from engine.loading import load_model
from engine.runner import new_run_dir

REPO = Path(__file__).resolve().parents[2]


def test_export_safetensors_to_the_run_directory_by_default(finished_run, capsys):
    assert main(["export", str(finished_run.path)]) == 0
    out = finished_run.path / "model.safetensors"
    assert capsys.readouterr().out.startswith(f"wrote {out} (")
    exported = load_text_model(out)
    original = load_text_model(finished_run.path)
    assert exported.generate("All:", 30, seed=2) == original.generate("All:", 30, seed=2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "gguf"], "argument --format: invalid choice: 'gguf'"),
        (["--out", "{tmp}/missing/m.pt2"], "{tmp}/missing/m.pt2: cannot write it"),
        (["--out", "{tmp}"], "{tmp}: is a folder"),
    ],
)
def test_bad_requests_are_one_line_errors(finished_run, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    before = sorted(tmp_path.rglob("*"))
    try:
        code = main(["export", str(finished_run.path), *args])
    except SystemExit as exc:  # argparse refuses before any command runs
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message.format(tmp=tmp_path) in err
    assert sorted(tmp_path.rglob("*")) == before


def test_sources_without_a_model_are_one_line_errors(tmp_path, tiny_settings, capsys):
    not_a_run = tmp_path / "folder"
    not_a_run.mkdir()
    no_checkpoint = new_run_dir(tiny_settings, tmp_path / "new").path
    for source, message in (
        (not_a_run, "not a run directory"),
        (no_checkpoint, "no checkpoint.pt yet"),
    ):
        assert main(["export", str(source), "--out", str(tmp_path / "m.pt2")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "m.pt2").exists()


def test_onnx_without_the_extra_names_the_install_command(
    finished_run, tmp_path, capsys, monkeypatch
):
    if onnx_available() is None:
        monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    assert (
        main(
            [
                "export",
                str(finished_run.path),
                "--format",
                "onnx",
                "--out",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'minigpt-tui[onnx]'" in err
    assert not (tmp_path / "m.onnx").exists()


_ONNX_MISSING = onnx_available() or (
    None if importlib.util.find_spec("onnxruntime") else "onnxruntime is not installed"
)


@pytest.mark.skipif(
    _ONNX_MISSING is not None, reason=f"ONNX round trip needs the onnx extra ({_ONNX_MISSING})"
)
def test_onnx_export_is_quiet_and_matches_pytorch(finished_run, tmp_path):
    import onnx
    import onnxruntime

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "model.onnx"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "export",
            str(finished_run.path),
            "--format",
            "onnx",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out} (") and result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert [p.name for p in out.parent.iterdir()] == ["model.onnx"]  # no external data file

    model = load_model(finished_run.path).model
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    vocab_size, block_size = model.config.vocab_size, model.config.block_size
    for shape in ((1, 1), (1, 7), (3, block_size)):
        idx = torch.randint(0, vocab_size, shape, generator=g)
        (logits,) = session.run(["logits"], {"idx": idx.numpy()})
        with torch.no_grad():
            expected = model(idx)[0]
        torch.testing.assert_close(torch.from_numpy(logits), expected, atol=1e-4, rtol=0)

    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props[META_KEY])["vocab"] == load_model(finished_run.path).tokenizer.vocab
