"""Exporting a trained model for use outside minigpt-tui: safetensors, torch.export, ONNX.

Every format maps token ids `idx` (B, T) with T <= block_size to `logits` (B, T, vocab_size)
and carries what a reader needs to turn text into ids and back: the model config, the
vocabulary (a string whose i-th character is token i), the settings and the training step,
as JSON under the key `minigpt_tui`.

    safetensors  the weights only, no pickle; the JSON is in the file's string metadata
    pt2          a torch.export program (dynamic batch and sequence length); the JSON is the
                 extra file `minigpt_tui.json`: torch.export.load(path, extra_files=...)
    onnx         the same graph through torch.onnx (needs `pip install minigpt-tui[onnx]`);
                 the JSON is in the model's metadata_props

The output is written to a temporary file beside it and renamed into place, so a failed
export never leaves half a file.
"""

import contextlib
import fcntl
import importlib
import json
import logging
import os
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from data.errors import CheckpointError, MinigptError
from data.tokenizer import CharTokenizer
from engine.atomic import atomic_write, atomic_write_bytes
from engine.loading import LoadedModel, load_model
from engine.model import GPT, GPTConfig
from engine.run_dir import RunDir
from engine.settings import check_layer, merge

log = logging.getLogger(__name__)

FORMATS = ("safetensors", "pt2", "onnx")
SUFFIXES = {"safetensors": ".safetensors", "pt2": ".pt2", "onnx": ".onnx"}
META_KEY = "minigpt_tui"
PT2_EXTRA_FILE = "minigpt_tui.json"
ONNX_EXTRA = "pip install 'minigpt-tui[onnx]'"


class ExportError(MinigptError):
    """An export that cannot be made: a bad format, an unwritable path, a missing extra."""

    title = "Export failed"


class Logits(torch.nn.Module):
    """The GPT's forward pass as exported: idx (B, T) to logits (B, T, vocab_size)."""

    def __init__(self, gpt: GPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.gpt(idx)[0]


def export_model(source: Path, fmt: str, out: Path) -> Path:
    """Export the model of a run directory or checkpoint file to out in fmt; returns out.

    The output path is checked before the (slow) export starts.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose {', '.join(FORMATS)})")
    out = out.expanduser()
    check_output(out)
    if fmt == "onnx":
        _require_onnx()
    source = source.expanduser()
    _refuse_overwriting_the_source(source, out)
    if source.is_dir() and not RunDir.open(source).checkpoint.is_file():
        raise ExportError(
            f"{source}: no checkpoint.pt yet; a run writes one every "
            "train.checkpoint_interval steps and when it ends"
        )
    loaded = load_model(source, device="cpu")
    save = {"safetensors": save_safetensors, "pt2": save_pt2, "onnx": save_onnx}[fmt]
    try:
        save(loaded, out)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write it ({exc.strerror or exc})") from None
    log.info("exported %s to %s", loaded.source, out)
    return out


def default_output(source: Path, fmt: str) -> Path:
    """model.<suffix> in the run directory, or beside the checkpoint file."""
    folder = source if source.is_dir() else source.parent
    return folder / f"model{SUFFIXES.get(fmt, '.' + fmt)}"


def check_output(out: Path) -> None:
    """Raise ExportError unless a file can be written at out."""
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; give a file name such as {out / 'model.pt2'}")
    parent = out.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "no such folder"
        raise ExportError(f"{out}: cannot write it ({parent}: {what})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{out}: cannot write it (no permission to write in {parent})")


def _refuse_overwriting_the_source(source: Path, out: Path) -> None:
    """An export never replaces the checkpoint it reads or another file of the run."""
    run = RunDir(source if source.is_dir() else source.parent)
    own = {run.checkpoint, run.events, run.config, run.control, run.lock, run.log, source}
    if out.resolve() in {p.resolve() for p in own}:
        raise ExportError(f"{out}: is the run's own {out.name}; choose another output file")


def describe(loaded: LoadedModel) -> dict[str, Any]:
    """The JSON-able facts a reader of an exported file needs besides the weights."""
    return {
        "config": asdict(loaded.model.config),
        "vocab": loaded.tokenizer.vocab,
        "settings": loaded.settings.to_dict(),
        "step": loaded.step,
    }


def save_safetensors(loaded: LoadedModel, out: Path) -> None:
    """Weights as safetensors; config, vocabulary, settings and step in its metadata."""
    from safetensors.torch import save

    # the head is not tied to the token embedding, so no two tensors share memory
    tensors = {k: v.detach().contiguous() for k, v in loaded.model.state_dict().items()}
    meta = {META_KEY: json.dumps(describe(loaded), ensure_ascii=False), "format": "pt"}
    atomic_write_bytes(out, save(tensors, metadata=meta))


def load_safetensors(path: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """A model exported with save_safetensors, in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    if META_KEY not in meta:
        raise CheckpointError(f"{path}: not exported by minigpt-tui (no {META_KEY} metadata)")
    return _rebuild(path, meta[META_KEY], tensors, device)


def _rebuild(
    path: Path, facts_json: str, tensors: dict[str, torch.Tensor], device: str | torch.device
) -> LoadedModel:
    """The eager GPT described by an exported file's JSON, holding its weights."""
    try:
        facts = json.loads(facts_json)
        model = GPT(GPTConfig(**facts["config"]))
        model.load_state_dict(tensors)
        settings = merge(check_layer(facts["settings"], str(path)))
        tokenizer = CharTokenizer.from_vocab(facts["vocab"])
        step = int(facts["step"])
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: its weights do not match its metadata ({first})") from None
    return LoadedModel(model.to(device).eval(), tokenizer, settings, step, path)


def export_program(loaded: LoadedModel) -> torch.export.ExportedProgram:
    """The model as a torch.export program with a dynamic batch and sequence length."""
    idx, dynamic = _example_input(loaded.model.config)
    with _quiet():
        return torch.export.export(Logits(loaded.model).eval(), (idx,), dynamic_shapes=dynamic)


def save_pt2(loaded: LoadedModel, out: Path) -> None:
    """A torch.export program saved with torch.export.save, the JSON as an extra file."""
    program = export_program(loaded)
    extra = {PT2_EXTRA_FILE: json.dumps(describe(loaded), ensure_ascii=False)}
    atomic_write(out, lambda f: torch.export.save(program, f, extra_files=extra))


def load_pt2(path: Path) -> tuple[torch.export.ExportedProgram, str]:
    """A program saved by save_pt2 and its minigpt_tui JSON."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a torch.export file (not a zip archive)")
    extra = {PT2_EXTRA_FILE: ""}
    # torch.export.load logs a traceback before it falls back to older archive layouts
    export_log = logging.getLogger("torch.export")
    level = export_log.level
    export_log.setLevel(logging.ERROR)
    try:
        program = torch.export.load(path, extra_files=extra)
    except (RuntimeError, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        # torch's own message points at the log lines silenced above, so name the kind only
        raise CheckpointError(
            f"{path}: not a readable torch.export program ({type(exc).__name__})"
        ) from None
    finally:
        export_log.setLevel(level)
    if not extra[PT2_EXTRA_FILE]:
        raise CheckpointError(f"{path}: not exported by minigpt-tui (no {PT2_EXTRA_FILE})")
    return program, extra[PT2_EXTRA_FILE]


def load_pt2_model(path: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """The eager GPT with a saved program's weights, so it samples exactly as the original."""
    program, facts = load_pt2(path)
    prefix = "gpt."  # the Logits wrapper's attribute
    tensors = {k.removeprefix(prefix): v for k, v in program.state_dict.items()}
    return _rebuild(path, facts, tensors, device)


def save_onnx(loaded: LoadedModel, out: Path) -> None:
    """The same graph as pt2 through torch.onnx's dynamo exporter, with its output hidden."""
    _require_onnx()
    idx, dynamic = _example_input(loaded.model.config)
    with _quiet():
        program = torch.onnx.export(
            Logits(loaded.model).eval(),
            (idx,),
            dynamo=True,
            verbose=False,
            dynamic_shapes=dynamic,
            input_names=["idx"],
            output_names=["logits"],
        )
    assert program is not None  # dynamo=True always returns the program
    program.model.metadata_props[META_KEY] = json.dumps(describe(loaded), ensure_ascii=False)
    # one self-contained file: external data would be named after the temporary file
    _save_via_path(out, lambda tmp: program.save(tmp, external_data=False))


def onnx_available() -> str | None:
    """None when ONNX export can run here, else what is missing and how to install it."""
    missing = []
    for name in ("onnx", "onnxscript"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        return f"ONNX export needs {' and '.join(missing)}: {ONNX_EXTRA}"
    return None


def _require_onnx() -> None:
    problem = onnx_available()
    if problem:
        raise ExportError(problem)


def _example_input(config: GPTConfig) -> tuple[torch.Tensor, dict[str, Any]]:
    """An input of full context length, and the dims that may vary: batch and time."""
    from torch.export import Dim

    T = config.block_size
    idx = torch.zeros((2, T), dtype=torch.long)
    dims: dict[int, Any] = {0: Dim("batch", min=1, max=4096)}
    if T > 1:
        dims[1] = Dim("T", min=1, max=T)
    return idx, {"idx": dims}


def _save_via_path(out: Path, save: Callable[[str], None]) -> None:
    """Let save write a temporary path beside out, then rename it into place."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the exporters' prints, warnings and log lines off the terminal.

    They write to the file descriptors directly as well as through sys.stdout, sys.stderr,
    warnings and logging, so all of those go to a temporary file for the duration. If the
    export fails, what it said is logged, because then it is the diagnosis.
    """
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fd = sink.fileno()
        # O_APPEND: the descriptors and the text stream all write at the end, never over
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        text = open(fd, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = [os.dup(1), os.dup(2)]
        failed = False
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        except BaseException:
            failed = True
            raise
        finally:
            # flushed before the descriptors come back, so buffered output lands in the sink
            for stream in (sys.stdout, sys.stderr, text):
                stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for saved_fd in saved:
                os.close(saved_fd)
            text.close()
            if failed:
                size = os.fstat(fd).st_size
                tail = os.pread(fd, 4096, max(0, size - 4096))
                said = tail.decode("utf-8", "replace").strip()
                if said:
                    log.error("the exporter said (last lines):\n%s", said)
