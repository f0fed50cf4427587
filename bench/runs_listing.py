"""Listing benchmark: summarizing a long run's events.jsonl, against decoding every line.

    .venv/bin/python -m bench.runs_listing                  # 100,000 steps, 20 runs
    .venv/bin/python -m bench.runs_listing --steps 2000     # a quick check that it works

Writes synthetic run directories with the real EventWriter (a step line per step, an
evaluation every 250 steps), then times engine.runs.list_runs over all of them and
engine.events.read_events (which decodes every line) over one, each as the median of --repeat.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from engine.events import DoneEvent, EvalEvent, EventWriter, StartEvent, StepEvent, read_events
from engine.run_dir import RunDir
from engine.runs import list_runs


def write_run(path: Path, steps: int) -> RunDir:
    run = RunDir(path)
    path.mkdir(parents=True)
    writer = EventWriter(run.events)
    writer.write(
        StartEvent(
            0,
            run=path.name,
            config={"train": {"preset": "small"}},
            vocab_size=65,
            vocab="abc",
            params={"total": 1},
            device="cpu",
            data="bench",
            max_steps=steps,
        )
    )
    for step in range(1, steps + 1):
        writer.write(
            StepEvent(
                step,
                loss=2.0 - step / steps,
                lr=1e-3,
                tokens_per_s=14_000.0,
                eta_s=float(steps - step),
            )
        )
        if step % 250 == 0:
            writer.write(EvalEvent(step, train_loss=1.9, val_loss=2.0 - step / steps))
    writer.write(DoneEvent(steps))
    writer.close()
    return run


def median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps per run")
    parser.add_argument("--runs", type=int, default=20, help="run directories to list")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = [write_run(root / f"run-{i:03d}", args.steps) for i in range(args.runs)]
        size = runs[0].events.stat().st_size
        listed = median_s(lambda: list_runs(root), args.repeat)
        full = median_s(lambda: read_events(runs[0].events), args.repeat)
    print(f"{args.runs} runs of {args.steps:,} steps ({size / 1e6:.1f} MB of events each)")
    print(
        f"list_runs, all runs:        {listed * 1e3:8.1f} ms "
        f"({listed / args.runs * 1e3:.1f} ms per run)"
    )
    print(f"read_events, one run:       {full * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
