"""`minigpt-tui generate`: text, explanations and JSON from a real run; one-line refusals."""

import json
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from cli.main import main
from engine.control import Control
from engine.loading import load_model
from engine.runner import make_trainer, new_run_dir, stream_events
from engine.settings import merge_layers, resolve
from tests.conftest import TINY_OVERRIDES, TINY_TEXT

PROMPT = "All:\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny run trained once for the module (a few seconds)."""
    root = tmp_path_factory.mktemp("generate")
    corpus = root / "tiny.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    settings = resolve({}, merge_layers(TINY_OVERRIDES, {"train": {"data": str(corpus)}}))
    run = new_run_dir(settings, root / "run")
    with run.hold_lock():
        for _ in stream_events(run, make_trainer(settings, run, Control(), resume=False)):
            pass
    return run.path


def generate(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `minigpt-tui generate args` (argparse exits itself)."""
    try:
        code = main(["generate", *args])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prints_the_prompt_and_the_continuation_and_repeats_with_a_seed(run_dir, capsys):
    args = ["--run", str(run_dir), "--prompt", PROMPT, "--tokens", "40", "--seed", "3"]
    code, first, err = generate(capsys, *args)
    assert code == 0 and err == ""
    # the prompt, 40 characters, and a newline unless the last of them was one
    assert first.startswith(PROMPT) and first.endswith("\n")
    assert len(first) in (len(PROMPT) + 40, len(PROMPT) + 41)
    assert generate(capsys, *args)[1] == first
    assert generate(capsys, *args[:-1], "4")[1] != first


def test_checkpoint_file_gives_the_same_text_as_its_run(run_dir, capsys):
    common = ["--prompt", PROMPT, "--tokens", "25", "--seed", "8", "--top-k", "5"]
    by_run = generate(capsys, "--run", str(run_dir), *common)[1]
    by_file = generate(capsys, "--checkpoint", str(run_dir / "checkpoint.pt"), *common)[1]
    assert by_run == by_file


def test_json_has_one_object_per_step_with_the_models_probabilities(run_dir, capsys):
    args = [
        "--run",
        str(run_dir),
        "--prompt",
        PROMPT,
        "--tokens",
        "20",
        "--seed",
        "5",
        "--temperature",
        "0.9",
        "--top-p",
        "0.9",
    ]
    code, out, _ = generate(capsys, *args, "--json", "--explain", "4")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [o["step"] for o in lines] == list(range(1, 21))

    loaded = load_model(run_dir)
    text = PROMPT
    for obj in lines:
        assert {"step", "chosen", "candidates", "entropy_bits"} <= obj.keys()
        with torch.no_grad():
            ids = loaded.tokenizer.encode(text)[-loaded.model.config.block_size :]
            logits = loaded.model(torch.tensor([ids]))[0][0, -1]
        probs = F.softmax(logits.double(), -1)
        top = torch.sort(probs, descending=True, stable=True)
        assert [c["token"] for c in obj["candidates"]] == [
            loaded.tokenizer.chars[i] for i in top.indices[:4].tolist()
        ]
        assert [c["prob"] for c in obj["candidates"]] == pytest.approx(
            top.values[:4].tolist(), abs=1e-5
        )
        entropy = float(-(probs[probs > 0] * probs[probs > 0].log2()).sum())
        assert obj["entropy_bits"] == pytest.approx(entropy, abs=1e-4)
        text += obj["chosen"]

    plain = generate(capsys, *args)[1]
    assert plain.rstrip("\n") == text.rstrip("\n")


def test_explain_prints_a_table_of_k_candidates_per_step(run_dir, capsys):
    code, out, _ = generate(
        capsys,
        "--run",
        str(run_dir),
        "--prompt",
        PROMPT,
        "--tokens",
        "3",
        "--explain",
        "5",
        "--seed",
        "1",
    )
    tables = out.split("\n\n", 3)  # the text after them may hold blank lines itself
    assert code == 0 and len(tables) == 4  # three steps, then the text
    for n, table in enumerate(tables[:3], 1):
        lines = table.splitlines()
        assert lines[0].startswith(f"step {n}: drew ") and "entropy" in lines[0]
        assert 5 <= len(lines) - 2 <= 6  # the chosen character is added if it ranks lower
        assert sum(line.endswith(" <") for line in lines) == 1
    assert tables[3].startswith(PROMPT)


def test_greedy_ignores_the_seed(run_dir, capsys):
    outs = {
        generate(
            capsys,
            "--run",
            str(run_dir),
            "--prompt",
            PROMPT,
            "--tokens",
            "30",
            "--greedy",
            "--seed",
            seed,
        )[1]
        for seed in ("1", "2")
    }
    zero = generate(
        capsys, "--run", str(run_dir), "--prompt", PROMPT, "--tokens", "30", "--temperature", "0"
    )[1]
    assert outs == {zero}


def test_a_prompt_longer_than_the_context_is_cut_with_a_note(run_dir, capsys):
    prompt = TINY_TEXT[:50]
    code, out, err = generate(capsys, "--run", str(run_dir), "--prompt", prompt, "--tokens", "5")
    assert code == 0
    assert err.strip() == (
        "minigpt-tui: note: the prompt has 50 characters; the model sees "
        "only the last 16, so it was cut to those"
    )
    assert out.startswith(prompt[-16:])


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--prompt", "Zebra€"],
            "minigpt-tui: error: characters not in the model's vocabulary: 'Z', 'b', '€'",
        ),
        (["--prompt", ""], "minigpt-tui: error: --prompt is empty; give at least one character"),
        (["--prompt", "A\x07\x1b[0m"], r"vocabulary: '\x07', '\x1b'"),
        (
            ["--prompt", "A", "--temperature", "-1"],
            "argument --temperature: -1: must be 0 (greedy)",
        ),
        (
            ["--prompt", "A", "--temperature", "nan"],
            "argument --temperature: 'nan' is not a finite",
        ),
        (["--prompt", "A", "--top-k", "0"], "argument --top-k: 0: must be at least 1"),
        (["--prompt", "A", "--top-p", "0"], "argument --top-p: 0: must be above 0 and at most 1"),
        (["--prompt", "A", "--top-p", "1.5"], "argument --top-p: 1.5: must be above 0"),
        (["--prompt", "A", "--tokens", "0"], "argument --tokens: 0 must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_dir, capsys, args, message):
    code, out, err = generate(capsys, "--run", str(run_dir), *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_and_corrupt_checkpoints_are_named(tmp_path, run_dir, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint at all")
    cases = [
        (["--checkpoint", str(tmp_path / "no.pt")], f"{tmp_path / 'no.pt'}: no such checkpoint"),
        (["--checkpoint", str(broken)], f"{broken}: "),
        (["--run", str(tmp_path / "nowhere")], "no such run directory"),
        (["--run", str(broken)], "is a file, not a run directory"),
        (["--checkpoint", str(run_dir)], "is a directory (use --run for a run)"),
    ]
    for args, message in cases:
        code, out, err = generate(capsys, *args, "--prompt", "A")
        assert code == 2 and out == ""
        assert err.startswith("minigpt-tui: error: ") and message in err
        assert len(err.strip().splitlines()) == 1


def test_sampling_defaults_come_from_the_sample_settings(run_dir, capsys):
    from engine import paths

    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text("[sample]\ntemperature = 0.0\nlength = 12\n")
    out = generate(capsys, "--run", str(run_dir), "--prompt", PROMPT, "--seed", "9")[1]
    greedy = generate(
        capsys, "--run", str(run_dir), "--prompt", PROMPT, "--greedy", "--tokens", "12"
    )[1]
    assert out == greedy and len(out) in (len(PROMPT) + 12, len(PROMPT) + 13)
