"""Downsampling a long loss history to what the chart can show."""

import numpy as np

from tui.loss_chart import downsample


def test_a_long_history_becomes_buckets_of_means():
    x = np.arange(1, 10_001, dtype=float)
    y = np.sin(x / 100) + 2
    xs, ys = downsample(x, y, 160)
    assert len(xs) == len(ys) == 160
    assert np.all(np.diff(xs) > 0) and xs[0] > 1 and xs[-1] < 10_000
    assert np.isclose(ys.mean(), y.mean(), rtol=1e-3)  # equal buckets keep the overall mean


def test_a_short_history_is_left_alone():
    x, y = np.arange(5.0), np.ones(5)
    xs, ys = downsample(x, y, 160)
    assert xs is x and ys is y
