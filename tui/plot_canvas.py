"""The plotting backend behind one small interface: lines and points, linear or log y.

This is the only module that imports textual-plot (a native Textual plot widget, maintained;
textual-plotext pins plotext below 6). Swapping the backend means rewriting this file only.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import AxisFormatter, NumericAxisFormatter

# Loss values worth a tick on a log axis; losses of a character model live in [0.5, 5].
LOG_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 7, 10, 20, 50, 100)


@dataclass(frozen=True)
class Series:
    """One thing to draw; style is a theme variable name such as `primary`."""

    x: Sequence[float]
    y: Sequence[float]
    style: str
    points: bool = False


class LogAxisFormatter(AxisFormatter):
    """Ticks for an axis whose coordinates are log10 of the values, labelled with the values."""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        inside = [math.log10(v) for v in LOG_TICKS if min_ <= math.log10(v) <= max_]
        step = max(1, math.ceil(len(inside) / max(1, max_ticks)))
        return inside[::step]

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [f"{10**t:g}" for t in ticks]


class PlotCanvas(PlotWidget, can_focus=False):
    """A chart redrawn whole from a list of series; no mouse or keys needed."""

    DEFAULT_CSS = """
    PlotCanvas {
        & > .plot--tick { text-style: none; color: $text-muted; }
        & > .plot--axis { color: $panel-lighten-2; }
    }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        self.margin_top, self.margin_bottom, self.margin_left = 0, 1, 6

    def draw(self, series: list[Series], x_range: tuple[float, float], log_y: bool) -> None:
        """Replace the chart with these series over x_range, log10 on y if asked."""
        colours = self.app.theme_variables
        self.clear()
        y_all = [v for s in series for v in s.y if math.isfinite(v) and (v > 0 or not log_y)]
        for s in series:
            x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
            if log_y:
                keep = y > 0
                x, y = x[keep], np.log10(y[keep])
            if not len(x):
                continue
            style = colours.get(s.style, colours["foreground"])
            if s.points:
                self.scatter(x, y, marker="●", marker_style=style)
            else:
                self.plot(x, y, line_style=style, hires_mode=HiResMode.BRAILLE)

        width, height = self.size.width - self.margin_left, self.size.height - self.margin_bottom
        self.set_xlimits(*x_range)
        self.set_xticks(NumericAxisFormatter().get_ticks(*x_range, max_ticks=max(2, width // 9)))
        if y_all:
            low, high = min(y_all), max(y_all)
            if log_y:
                low, high = math.log10(low), math.log10(high)
            pad = max((high - low) * 0.05, 1e-3)
            self.set_ylimits(low - pad, high + pad)
            formatter = LogAxisFormatter() if log_y else NumericAxisFormatter()
            self.set_y_formatter(formatter)
            self.set_yticks(formatter.get_ticks(low - pad, high + pad, max(2, height // 3)))
        else:
            self.set_ylimits(None, None)
            self.set_yticks([])
