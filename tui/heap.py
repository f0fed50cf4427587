"""Keeping the garbage collector's full passes out of the way of key presses.

Once Textual, rich and torch are loaded, the process holds a few hundred thousand long-lived
objects, and every full collection walks all of them: measured here, 130-160 ms, a handful of
times per few hundred steps of the generation pane, each one a visibly dropped key press.
gc.freeze() moves the objects alive now into a generation that collections skip; reference
counting still frees them when they go, so the only cost is that a reference cycle among them
would never be collected.
"""

import gc


def settle() -> None:
    """Exempt every object alive now from future collections: call after a big load.

    No collection first: at start-up it takes ~90 ms and finds nothing to free.
    """
    gc.freeze()
