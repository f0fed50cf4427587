"""The Textual dashboard."""

import os

# Textual waits one frame before each repaint and caps frames at TEXTUAL_FPS (default 60):
# that wait alone was 17 ms of every step in the generation pane. Repaints only happen when
# something changed, so a higher cap costs nothing while the screen is still.
os.environ.setdefault("TEXTUAL_FPS", "120")
