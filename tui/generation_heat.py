"""Colour ramps for the generation pane, built from the theme colours a widget's CSS gives."""

from rich.style import Style
from textual.color import Color

LEVELS = 11


def ramp(base: Color, low: Color, high: Color, strength: float = 1.0) -> list[Style]:
    """LEVELS styles shading from low to high, laid over base at strength; text stays legible."""
    styles = []
    for i in range(LEVELS):
        shade = low.blend(high, i / (LEVELS - 1))
        background = base.blend(shade, strength)
        styles.append(
            Style(bgcolor=background.rich_color, color=background.get_contrast_text(1.0).rich_color)
        )
    return styles


def level(value: float) -> int:
    """The ramp index for value in [0, 1]."""
    return max(0, min(LEVELS - 1, round(value * (LEVELS - 1))))
