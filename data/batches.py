"""Turning a corpus into id tensors, a train/validation split and random batches."""

import torch

from data.errors import DataError
from data.tokenizer import CharTokenizer


def encode_corpus(text: str, tokenizer: CharTokenizer) -> torch.Tensor:
    """The whole text as a 1-D tensor of ids, without a Python list in between.

    str.translate maps every character to the character whose code is its id in one C pass;
    encoding that gives one byte (or four) per id that torch can view without a copy. A 500 MB
    corpus thus never exists as a 500-million-element list.
    """
    missing = tokenizer.unknown(text)
    if missing:
        tokenizer.encode("".join(missing))  # raises the error that names them

    table = {ord(ch): i for i, ch in enumerate(tokenizer.chars)}
    mapped = text.translate(table)
    if tokenizer.vocab_size <= 256:
        return torch.frombuffer(bytearray(mapped.encode("latin-1")), dtype=torch.uint8)
    wide = torch.frombuffer(bytearray(mapped.encode("utf-32-le")), dtype=torch.int32)
    return wide.to(torch.int16) if tokenizer.vocab_size <= 32767 else wide


def split_ids(
    ids: torch.Tensor, val_fraction: float, block_size: int, source: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """A contiguous split: the first part trains, the last val_fraction validates."""
    n_val = int(len(ids) * val_fraction)
    train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    need = block_size + 1
    if len(train) < need or len(val) < need:
        raise DataError(
            f"{source}: too short: {len(ids):,} characters give {len(train):,} for training and "
            f"{len(val):,} for validation, but each needs at least block_size + 1 = {need}"
        )
    return train, val


def get_batch(
    ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """batch_size random windows of ids: inputs x and next-character targets y, both (B, T)."""
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    windows = ids[starts[:, None] + torch.arange(block_size + 1)].long()  # (B, T+1)
    return windows[:, :-1], windows[:, 1:]
