"""Turning a corpus into id tensors, a train/validation split and random batches."""

import torch

from data.errors import DataError
from data.tokenizer import CharTokenizer

# Characters encoded per pass: large enough to run at memcpy speed, small enough that the
# temporary copies stay a few MB however large the corpus.
CHUNK = 1 << 22


def encode_corpus(text: str, tokenizer: CharTokenizer) -> torch.Tensor:
    """The whole text as a 1-D tensor of ids, filled a chunk at a time.

    A 300 MB corpus is never a 300-million-element list, nor several whole-size copies: each
    chunk is mapped to ids in C (bytes.translate for single-byte characters, str.translate
    otherwise) and copied into the preallocated result.
    """
    missing = tokenizer.unknown(text)
    if missing:
        tokenizer.encode("".join(missing))  # raises the error that names them

    n = tokenizer.vocab_size
    dtype = torch.uint8 if n <= 256 else torch.int16 if n <= 32767 else torch.int32
    out = torch.empty(len(text), dtype=dtype)
    single_byte = all(ord(ch) < 256 for ch in tokenizer.chars)
    byte_table = bytes(tokenizer.stoi.get(chr(b), 0) for b in range(256)) if single_byte else b""
    str_table = {ord(ch): i for i, ch in enumerate(tokenizer.chars)}

    for start in range(0, len(text), CHUNK):
        piece = text[start : start + CHUNK]
        if single_byte:
            ids = bytearray(piece.encode("latin-1").translate(byte_table))
            out[start : start + len(piece)] = torch.frombuffer(ids, dtype=torch.uint8)
        else:
            wide = bytearray(piece.translate(str_table).encode("utf-32-le"))
            out[start : start + len(piece)] = torch.frombuffer(wide, dtype=torch.int32)
    return out


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
