"""Dashboard overhead: training throughput under the dashboard against headless training.

    .venv/bin/python -m bench.dashboard_bench                          # small, 400 steps, 3 rounds
    .venv/bin/python -m bench.dashboard_bench --steps 30 --rounds 1    # a quick check

Each round trains the same preset from scratch twice, alternating which goes first:
- headless: `minigpt-tui train --out DIR --quiet`;
- dashboard: `minigpt-tui --preset P ...` in a real terminal (a 120x40 tmux window), so that
  drawing costs what it costs a user; when the run's `done` event appears the bench presses q.
  Without tmux (or with --terminal headless) the dashboard runs under Textual's headless
  driver instead: the app still renders every frame, but no terminal has to draw them.

A last part measures key latency: the dashboard (under Textual's test driver) follows a
training child while `?` and escape are pressed --presses times at random moments; it reports
the median, p95 and worst time from the key press to the help screen being up (target: 100 ms).

Throughput is read from each run's own step events: the median tokens/s over steps (each step's
wall time includes whatever the dashboard took from the trainer), and steps per second over the
last 90% of steps. The ratio is dashboard / headless, per round and as the median; the target is
at least 0.95. Machines like ours vary 20-40% between runs, which is why rounds alternate.
Everything runs with its own XDG folders, so the user's settings and runs are untouched.
"""

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine.events import DoneEvent, FailedEvent, StepEvent, read_events

BIN = Path(sys.executable).parent / "minigpt-tui"
TARGET = 0.95

# Used without tmux: the dashboard under Textual's headless driver, quitting once the run ends.
HEADLESS_APP = """
import sys
from tui.app import DashboardApp
from tui.trainer_process import Launch
from engine import paths
from engine.settings import load_settings, parse_override, merge_layers

layer = merge_layers(*[parse_override(a) for a in sys.argv[1:]])
app = DashboardApp(launch=Launch(settings=load_settings(paths.settings_path(), layer)))
def quit_when_done():
    if app.state is not None and app.state.ended:
        app.exit()
app.call_later(lambda: app.set_interval(0.5, quit_when_done))
app.run(headless=True, size=(120, 40))
"""


@dataclass
class Throughput:
    tokens_per_s: float
    """Median over steps of the trainer's own tokens/s."""
    steps_per_s: float
    """Steps over wall time, from the step at 10% of the run to the last."""
    wall_s: float


def measure(events_path: Path) -> Throughput:
    events = read_events(events_path)
    failed = [e for e in events if isinstance(e, FailedEvent)]
    if failed:
        raise SystemExit(f"bench: the run failed: {failed[0].message}")
    steps = [e for e in events if isinstance(e, StepEvent)]
    if len(steps) < 10:
        raise SystemExit(f"bench: {events_path} has only {len(steps)} steps; use --steps 10+")
    tail = steps[len(steps) // 10 :]
    span = tail[-1].time - tail[0].time
    return Throughput(
        tokens_per_s=statistics.median(e.tokens_per_s for e in steps),
        steps_per_s=(tail[-1].step - tail[0].step) / span if span > 0 else float("nan"),
        wall_s=steps[-1].time - steps[0].time,
    )


def run_headless(args: argparse.Namespace, env: dict[str, str], out: Path) -> Throughput:
    command = [str(BIN), "train", "--quiet", "--out", str(out), *settings_overrides(args)]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, timeout=args.timeout)
    return measure(out / "events.jsonl")


def run_dashboard(args: argparse.Namespace, env: dict[str, str]) -> Throughput:
    runs = Path(env["XDG_DATA_HOME"]) / "minigpt-tui" / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    if args.terminal == "tmux":
        socket = f"minigpt-bench-{os.getpid()}"
        exports = " ".join(f"{k}={env[k]}" for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"))
        shell = f"env {exports} {BIN} {' '.join(settings_overrides(args))}"
        tmux = ["tmux", "-L", socket]
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", shell], check=True
        )
        try:
            events = wait_for_done(runs, before, args.timeout)
            subprocess.run([*tmux, "send-keys", "-t", "bench", "q"], check=True)
            time.sleep(1.0)
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True)
            tmp = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
            (tmp / socket).unlink(missing_ok=True)
    else:
        sets = [a.removeprefix("--set=") for a in settings_overrides(args)]
        subprocess.run(
            [sys.executable, "-c", HEADLESS_APP, *sets], env=env, check=True, timeout=args.timeout
        )
        events = wait_for_done(runs, before, 10)
    return measure(events)


def wait_for_done(runs: Path, before: set[Path], timeout: float) -> Path:
    """The new run's events.jsonl once it holds a done or failed event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(runs.iterdir()) - before if runs.exists() else set()
        for run in new:
            events = read_events(run / "events.jsonl")
            if events and isinstance(events[-1], (DoneEvent, FailedEvent)):
                return run / "events.jsonl"
        time.sleep(0.5)
    raise SystemExit(f"bench: the dashboard's run did not finish within {timeout:.0f}s")


def settings_overrides(args: argparse.Namespace) -> list[str]:
    sets = [
        f"--set=train.preset={args.preset}",
        f"--set=train.steps={args.steps}",
        "--set=train.device=cpu",
    ]
    if args.data:
        sets.append(f'--set=train.data="{Path(args.data).resolve()}"')
    return sets


async def key_latency(args: argparse.Namespace, presses: int) -> list[float]:
    """Seconds from each `?` press to the help screen, while a child trains."""
    from textual import events

    from engine import paths
    from engine.settings import load_settings, merge_layers, parse_override
    from tui.app import DashboardApp
    from tui.help_screen import HelpScreen
    from tui.trainer_process import Launch

    layer = merge_layers(
        *[parse_override(a.removeprefix("--set=")) for a in settings_overrides(args)]
    )
    layer = merge_layers(layer, {"train": {"steps": 1_000_000}})
    app = DashboardApp(launch=Launch(settings=load_settings(paths.settings_path(), layer)))
    rng = random.Random(0)
    seconds = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.state is None or app.state.step < 5:
            await asyncio.sleep(0.1)
        for _ in range(presses):
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            # the key goes straight to the driver: Pilot.press also waits for the process to
            # go idle, which a training child never lets it do
            began = time.perf_counter()
            app._driver.send_message(events.Key("question_mark", "?"))
            while not isinstance(app.screen, HelpScreen):
                await asyncio.sleep(0.001)
            seconds.append(time.perf_counter() - began)
            app._driver.send_message(events.Key("escape", None))
            while isinstance(app.screen, HelpScreen):
                await asyncio.sleep(0.001)
        await pilot.press("q", "s")
        while not app._exit:
            await asyncio.sleep(0.1)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="training text (default: the built-in corpus)")
    parser.add_argument(
        "--terminal",
        choices=("tmux", "headless"),
        default="tmux" if shutil.which("tmux") else "headless",
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--presses", type=int, default=40, help="key presses for the latency part (0 skips it)"
    )
    args = parser.parse_args(argv)
    if not BIN.exists():
        raise SystemExit(f"bench: {BIN} is not installed (pip install -e .)")

    with tempfile.TemporaryDirectory(prefix="minigpt-bench-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
        }
        ratios = []
        print(f"preset {args.preset}, {args.steps} steps, dashboard in {args.terminal}")
        print(
            f"{'round':>5}  {'headless tok/s':>14}  {'dashboard tok/s':>15}  "
            f"{'ratio':>6}  {'steps/s ratio':>13}"
        )
        for n in range(args.rounds):
            order = ("headless", "dashboard") if n % 2 == 0 else ("dashboard", "headless")
            result: dict[str, Throughput] = {}
            for kind in order:
                if kind == "headless":
                    result[kind] = run_headless(args, env, root / f"headless-{n}")
                else:
                    result[kind] = run_dashboard(args, env)
            h, d = result["headless"], result["dashboard"]
            ratio = d.tokens_per_s / h.tokens_per_s
            ratios.append(ratio)
            print(
                f"{n + 1:>5}  {h.tokens_per_s:>14,.0f}  {d.tokens_per_s:>15,.0f}  "
                f"{ratio:>6.3f}  {d.steps_per_s / h.steps_per_s:>13.3f}"
            )
        median = statistics.median(ratios)
        verdict = "meets" if median >= TARGET else "misses"
        print(f"median ratio {median:.3f} ({verdict} the target of {TARGET})")

        if args.presses:
            os.environ.update({k: env[k] for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")})
            ms = sorted(1000 * s for s in asyncio.run(key_latency(args, args.presses)))
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print(
                f"key to help screen while training: median {statistics.median(ms):.1f} ms, "
                f"p95 {p95:.1f} ms, worst {ms[-1]:.1f} ms ({len(ms)} presses; target 100 ms)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
