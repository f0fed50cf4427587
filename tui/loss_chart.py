"""The loss chart: training loss raw and smoothed, validation loss, and the uniform guess."""

import math
import time

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from tui.plot_canvas import PlotCanvas, Series
from tui.run_state import RunState

# A redraw costs the UI process tens of milliseconds (measured with 2,000 steps at 120x40),
# time taken from the trainer on a small machine; a loss curve needs no more than one a second.
MIN_REDRAW_S = 1.0

COLOURS = {
    "raw": "foreground-darken-3",
    "smoothed": "primary-lighten-2",
    "val": "warning",
    "uniform": "error",
}


def downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean x and y in `buckets` equal runs of points; unchanged when already that short."""
    if buckets < 1 or len(x) <= buckets:
        return x, y
    edges = np.linspace(0, len(x), buckets + 1).astype(int)
    counts = np.diff(edges)
    return np.add.reduceat(x, edges[:-1]) / counts, np.add.reduceat(y, edges[:-1]) / counts


class LossChart(Vertical):
    """Loss against step, redrawn at most every MIN_REDRAW_S, in a linear or log scale."""

    log_scale: reactive[bool] = reactive(False)
    state: RunState | None = None

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._timer: Timer | None = None
        self._drawn_at = 0.0
        self._legend_shown: Content | None = None
        self.drawn_points = 0

    def compose(self) -> ComposeResult:
        yield Static(id="chart-legend")
        yield PlotCanvas(id="chart-plot")

    def on_mount(self) -> None:
        self.border_title = "Loss"
        self.app.theme_changed_signal.subscribe(self, lambda _: self.schedule())

    def show(self, state: RunState | None) -> None:
        """Draw from state soon, at most once per MIN_REDRAW_S."""
        self.state = state
        self.schedule()

    def watch_log_scale(self) -> None:
        self.schedule()

    def on_resize(self) -> None:
        self.schedule()

    def schedule(self) -> None:
        if self._timer is None:
            # Textual's timers divide by their delay, so never ask for zero
            delay = max(0.02, self._drawn_at + MIN_REDRAW_S - time.monotonic())
            self._timer = self.set_timer(delay, self.redraw)

    def redraw(self) -> None:
        self._timer, self._drawn_at = None, time.monotonic()
        state = self.state
        plot = self.query_one(PlotCanvas)
        legend = self._legend(state)
        if legend != self._legend_shown:
            self._legend_shown = legend
            self.query_one("#chart-legend", Static).update(legend, layout=False)
        if state is None or not plot.size.width:
            plot.draw([], (0, 1), self.log_scale)
            return

        buckets = 2 * max(1, plot.size.width - plot.margin_left)
        steps = np.asarray(state.steps, dtype=float)
        x, raw = downsample(steps, np.asarray(state.losses, dtype=float), buckets)
        _, smooth = downsample(steps, np.asarray(state.smoothed, dtype=float), buckets)
        last = max([state.max_steps, *state.steps[-1:], *[e.step for e in state.evals[-1:]], 1])
        val_x = [e.step for e in state.evals]
        val_y = [e.val_loss for e in state.evals]
        series = [
            Series(x, raw, COLOURS["raw"]),
            Series(x, smooth, COLOURS["smoothed"]),
            Series(val_x, val_y, COLOURS["val"]),
            Series(val_x, val_y, COLOURS["val"], points=True),
        ]
        if state.start is not None:
            uniform = math.log(state.start.vocab_size)
            series.insert(0, Series([0, last], [uniform, uniform], COLOURS["uniform"]))
        plot.draw(series, (0, last), self.log_scale)
        self.drawn_points = len(x)

    def _legend(self, state: RunState | None) -> Content:
        parts: list[str | tuple[str, str]] = [
            ("━ ", f"${COLOURS['raw']}"),
            "train  ",
            ("━ ", f"${COLOURS['smoothed']}"),
            "smoothed  ",
            ("● ", f"${COLOURS['val']}"),
            "val",
        ]
        title = "Loss (log scale)" if self.log_scale else "Loss"
        if self.border_title != title:
            self.border_title = title
        if state is not None and state.start is not None and not self.border_subtitle:
            vocab = state.start.vocab_size
            self.border_subtitle = Content.assemble(
                ("━ ", f"${COLOURS['uniform']}"),
                f"uniform guess ln({vocab}) = {math.log(vocab):.2f}",
            )
        elif (state is None or state.start is None) and self.border_subtitle:
            self.border_subtitle = ""
        return Content.assemble(*parts)
