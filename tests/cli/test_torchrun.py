"""`minigpt-tui train` under torchrun: two CPU processes train one model over gloo."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from statistics import mean

import pytest
import torch

from data.batches import encode_corpus, get_batch, split_ids
from data.tokenizer import CharTokenizer
from engine.checkpoint import load_checkpoint
from engine.control import send_command
from engine.distributed import stream_seed
from engine.events import DoneEvent, EvalEvent, SampleEvent, StartEvent, StepEvent, read_events
from engine.model import GPT, GPTConfig
from engine.run_dir import RunDir
from tests.cli.test_train import REPO, env
from tests.cli.test_train import TINY as SINGLE_PROCESS_TINY

# the tiny model of test_train, with two micro-steps a step so that no_sync is exercised too
TINY = [*SINGLE_PROCESS_TINY, "--set=train.grad_accum=2"]
TIMEOUT_S = 90


def torchrun(*args: str, log: Path) -> subprocess.Popen:
    """`torchrun --standalone --nproc_per_node=2 minigpt-tui train ARGS`, output to log.*."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", "-m", "cli", "train", *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env(),
        stdout=open(log.with_suffix(".out"), "w"),
        stderr=open(log.with_suffix(".err"), "w"),
    )


def descendants(pid: int) -> list[int]:
    """Every process below pid: torchrun starts its workers in sessions of their own."""
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return children + [d for child in children for d in descendants(child)]


def finish(proc: subprocess.Popen) -> int:
    """Wait for torchrun; if it hangs, kill it and its workers and fail the test."""
    try:
        return proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        pytest.fail(f"torchrun did not finish within {TIMEOUT_S} s (a rank hung?)")


def wait_for(path: Path, needle: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.05)
    pytest.fail(f"{path} never showed {needle!r}")


def rank_losses(run: RunDir, text: str, state: dict | None) -> list[list[float]]:
    """Losses computed here, without torchrun, on each rank's batches.

    With state None: step 1's micro-batches for the initial model; with a checkpoint: the
    evaluation batches (train split, then validation) for its model.
    """
    settings = run.read_config()
    t, block_size = settings.train, settings.model.block_size
    tokenizer = CharTokenizer.from_vocab(state["vocab"] if state else "".join(sorted(set(text))))
    train_ids, val_ids = split_ids(encode_corpus(text, tokenizer), t.val_fraction, block_size, "")
    torch.manual_seed(t.seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **asdict(settings.model)))
    if state:
        model.load_state_dict(state["model"])
    per_rank = []
    for rank in (0, 1):
        losses = []
        for ids in (train_ids,) if state is None else (train_ids, val_ids):
            seed = stream_seed(t.seed, rank) if state is None else stream_seed(t.seed + 1, rank)
            generator = torch.Generator().manual_seed(seed)
            for _ in range(t.grad_accum if state is None else t.eval_batches):
                x, y = get_batch(ids, t.batch_size, block_size, generator)
                with torch.no_grad():
                    losses.append(model(x, y)[1].item())
        per_rank.append(losses)
    return per_rank


def test_two_ranks_train_one_run_that_rank_0_writes_and_one_process_resumes(tmp_path, tiny_corpus):
    run = RunDir(tmp_path / "run")
    proc = torchrun(
        "--data",
        str(tiny_corpus),
        "--out",
        str(run.path),
        "--steps",
        "2000",
        *TINY,
        log=tmp_path / "torchrun",
    )

    # after the first evaluation, ask for another and a stop in one write: every rank must
    # act on both at the same step, or one would wait forever in a collective
    wait_for(run.events, '"type": "eval"')
    with open(run.control, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps({"command": c}) + "\n" for c in ("eval", "stop")))
    assert finish(proc) == 0, (tmp_path / "torchrun.err").read_text()
    out = (tmp_path / "torchrun.out").read_text()
    assert "on 2 processes (rank 0 on cpu)" in out
    assert "Traceback" not in (tmp_path / "torchrun.err").read_text()

    # rank 0's run directory is complete, and its events speak for both ranks
    events = read_events(run.events)
    start, done = events[0], events[-1]
    assert isinstance(start, StartEvent) and start.world_size == 2
    assert isinstance(done, DoneEvent) and done.reason == "stopped"
    assert f"stopped at step {done.step}" in out
    assert [e.step for e in events if isinstance(e, StepEvent)] == list(range(1, done.step + 1))
    assert any(isinstance(e, EvalEvent) and e.step == done.step for e in events)
    assert any(isinstance(e, SampleEvent) and e.step == done.step for e in events)
    assert run.lock.read_text() == str(start.pid) and run.trainer_pid() is None
    assert run.read_config().train.steps == 2000

    # the checkpoint holds the bare model, and each rank's own random streams
    state = load_checkpoint(run.checkpoint)
    assert state["step"] == done.step
    assert not any(key.startswith("module.") for key in state["model"])
    ranks = state["rng"]["ranks"]
    assert len(ranks) == 2 and not torch.equal(ranks[0]["batches"], ranks[1]["batches"])

    # step 1's loss is the mean over both ranks' batches, which differ from each other
    text = tiny_corpus.read_text(encoding="utf-8")
    rank_0, rank_1 = rank_losses(run, text, None)
    step_1 = next(e for e in events if isinstance(e, StepEvent)).loss
    assert step_1 == pytest.approx(mean(rank_0 + rank_1), abs=1e-5)
    assert abs(step_1 - mean(rank_0)) > 1e-4

    # the last evaluation averages both ranks' models on their own batches: it matches rank
    # 0's checkpoint on both ranks' batches only if the two replicas stayed the same
    rank_0, rank_1 = rank_losses(run, text, state)
    last_eval = [e for e in events if isinstance(e, EvalEvent)][-1]
    half = len(rank_0) // 2
    assert last_eval.train_loss == pytest.approx(mean(rank_0[:half] + rank_1[:half]))
    assert last_eval.val_loss == pytest.approx(mean(rank_0[half:] + rank_1[half:]))

    # one process, without torchrun, goes on from rank 0's checkpoint
    resumed = subprocess.run(
        [sys.executable, "-m", "cli", "train", "--resume", str(run.path)]
        + ["--steps", str(done.step + 5)],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert resumed.returncode == 0, resumed.stderr
    events = read_events(run.events)
    starts = [e for e in events if isinstance(e, StartEvent)]
    assert [(s.step, s.world_size) for s in starts] == [(0, 2), (done.step, 1)]
    after = events[events.index(starts[1]) :]
    assert [e.step for e in after if isinstance(e, StepEvent)] == list(
        range(done.step + 1, done.step + 6)
    )
    assert isinstance(after[-1], DoneEvent) and after[-1].reason == "completed"


def test_bad_data_under_torchrun_is_one_line_from_rank_0_and_makes_no_run(tmp_path):
    missing = tmp_path / "missing.txt"
    proc = torchrun(
        "--data", str(missing), "--out", str(tmp_path / "run"), *TINY, log=tmp_path / "torchrun"
    )
    assert finish(proc) != 0
    err = (tmp_path / "torchrun.err").read_text()
    ours = [line for line in err.splitlines() if line.startswith("minigpt-tui")]
    assert ours == [f"minigpt-tui: error: {missing}: no such file"], err
    assert not (tmp_path / "run").exists()


def train_to(run: Path, steps: int, *, ranks: int, resume: bool, tmp_path: Path, data: Path):
    """Train run to `steps` on `ranks` processes (1: without torchrun), new or resumed."""
    where = ["--resume", str(run)] if resume else ["--data", str(data), "--out", str(run), *TINY]
    args = [*where, "--steps", str(steps)]
    if ranks == 1:
        command = [sys.executable, "-m", "cli", "train", *args]
        result = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return
    log = tmp_path / f"{run.name}-{steps}"
    assert finish(torchrun(*args, log=log)) == 0, log.with_suffix(".err").read_text()


def curve(run: Path, after: int) -> dict[int, float]:
    return {
        e.step: e.loss
        for e in read_events(run / "events.jsonl")
        if isinstance(e, StepEvent) and e.step > after
    }


@pytest.mark.slow
def test_resuming_on_as_many_ranks_repeats_the_uninterrupted_run(tmp_path, tiny_corpus):
    common = {"tmp_path": tmp_path, "data": tiny_corpus}
    train_to(tmp_path / "whole", 200, ranks=2, resume=False, **common)

    # the same run stopped part way (the schedule depends on train.steps, so it must be 200)
    split = RunDir(tmp_path / "split")
    proc = torchrun(
        "--data",
        str(tiny_corpus),
        "--out",
        str(split.path),
        "--steps",
        "200",
        *TINY,
        log=tmp_path / "split",
    )
    wait_for(split.events, '"type": "eval"')
    send_command(split.control, "stop")
    assert finish(proc) == 0, (tmp_path / "split.err").read_text()
    stopped = read_events(split.events)[-1].step
    assert 10 <= stopped < 200
    train_to(split.path, 200, ranks=2, resume=True, **common)
    assert curve(split.path, stopped) == curve(tmp_path / "whole", stopped)

    # more ranks than were saved: rank 0 goes on, rank 1 starts a stream from (seed, 1, step)
    train_to(tmp_path / "grown", 10, ranks=1, resume=False, **common)
    train_to(tmp_path / "grown", 20, ranks=2, resume=True, **common)
    starts = [
        e for e in read_events(tmp_path / "grown" / "events.jsonl") if isinstance(e, StartEvent)
    ]
    assert [(s.step, s.world_size) for s in starts] == [(0, 1), (10, 2)]
    assert list(curve(tmp_path / "grown", 10)) == list(range(11, 21))
