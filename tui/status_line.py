"""The status line: which run, in what state, how far along, how fast."""

from textual.content import Content
from textual.widgets import Static

from tui import format as fmt
from tui.run_state import STATES, RunState

STATE_STYLES = {
    "starting": "bold $text-muted",
    "running": "bold $success",
    "paused": "bold $warning",
    "stopped": "bold $secondary",
    "done": "bold $primary",
    "failed": "bold $error",
}

# No event for this long while running means something is wrong (a hung trainer, or a run on
# a filesystem whose updates are not reaching us); the slowest preset logs a step in seconds.
QUIET_AFTER_S = 60.0


class StatusLine(Static):
    """Run name, preset, device, state, step N/M, elapsed, ETA, tokens/s and learning rate."""

    _shape: tuple[int, bool] | None = None

    def show(self, state: RunState | None, now: float, note: str = "") -> None:
        """Redraw from state; note is a short suffix such as `read-only`."""
        for word in STATES:
            self.set_class(state is not None and state.state == word, f"-{word}")
        if state is None:
            lines = [
                Content.from_markup("[b]no run[/b] · [b]n[/b] starts a new run, [b]o[/b] opens one")
            ]
        else:
            lines = self._lines(state, now, note)
        # A layout pass re-renders the whole screen; skip it unless our height may change.
        shape = (len(lines), max(len(line) for line in lines) > self.content_region.width)
        self.update(Content("\n").join(lines), layout=shape != self._shape)
        self._shape = shape

    def _lines(self, state: RunState, now: float, note: str) -> list[Content]:
        total = f"/{state.max_steps:,}" if state.max_steps else ""
        first = [
            (f" {state.state} ", STATE_STYLES[state.state] + " reverse"),
            " ",
            (state.name or "(waiting for the trainer)", "bold"),
        ]
        for part in (state.preset, state.device, f"step {state.step:,}{total}", note):
            if part:
                first += [(" · ", "$text-muted"), part]

        eta = fmt.duration(state.eta_s) if state.state in ("running", "paused") else "-"
        second = [
            f"elapsed {fmt.duration(state.elapsed(now))} · ETA {eta} · "
            f"{fmt.count(state.tokens_per_s)} tok/s · lr {fmt.rate(state.lr)} · "
            f"loss {fmt.loss(state.loss)}"
        ]
        # a paused run is quiet on purpose; a running one that is quiet may be hung
        quiet = state.quiet_for(now) if state.alive and state.state != "paused" else 0.0
        if quiet > QUIET_AFTER_S:
            second.append((f" · no events for {fmt.duration(quiet)}", "bold $warning"))
        lines = [Content.assemble(*first), Content.assemble(*second)]
        if state.failure:
            lines.append(Content.assemble(("failed: ", "bold $error"), state.failure))
        return lines
