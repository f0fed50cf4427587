"""The train/validation split and random batches."""

import pytest
import torch

from data.batches import get_batch, split_ids
from data.errors import DataError


def test_the_split_is_contiguous_with_validation_at_the_end():
    ids = torch.arange(1000)
    train, val = split_ids(ids, 0.1, block_size=8, source="x.txt")
    assert train.tolist() == list(range(900)) and val.tolist() == list(range(900, 1000))
    train, val = split_ids(ids, 0.25, block_size=8, source="x.txt")
    assert len(train) == 750 and len(val) == 250


def test_a_text_too_short_for_one_block_names_the_file():
    with pytest.raises(DataError, match=r"^short\.txt: too short.*block_size \+ 1 = 9"):
        split_ids(torch.arange(50), 0.1, block_size=8, source="short.txt")


def test_batches_are_windows_with_next_character_targets():
    ids = torch.arange(500)
    x, y = get_batch(ids, batch_size=6, block_size=10, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (6, 10) and x.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(6, 9, dtype=torch.long))
    assert int(x.max()) < 500 and int(y.max()) < 500


def test_the_same_generator_seed_gives_the_same_batches():
    ids = torch.randint(65, (5000,), dtype=torch.int64).to(torch.uint8)
    a = get_batch(ids, 4, 16, torch.Generator().manual_seed(7))
    b = get_batch(ids, 4, 16, torch.Generator().manual_seed(7))
    c = get_batch(ids, 4, 16, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_every_window_start_can_be_drawn():
    """The last possible window (ending on the last id) is reachable, none beyond it."""
    ids = torch.arange(12)
    x, y = get_batch(ids, 2000, 10, torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) == {0, 1}
    assert int(y.max()) == 11
