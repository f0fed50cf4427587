"""The character tokenizer: sorted vocabulary, lossless round trip, named unknown characters."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from data.batches import encode_corpus
from data.errors import DataError
from data.tokenizer import CharTokenizer

CORPUS = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


def test_the_vocabulary_is_the_sorted_set_of_characters():
    tok = CharTokenizer.from_text(CORPUS)
    assert tok.chars == sorted(set(CORPUS))
    assert tok.vocab_size == len(set(CORPUS))
    assert tok.encode("\n") == [0]  # newline sorts first
    assert CharTokenizer.from_vocab(tok.vocab).chars == tok.chars


@given(st.text(alphabet=sorted(set(CORPUS)), max_size=200))
def test_decode_inverts_encode(text):
    tok = CharTokenizer.from_text(CORPUS)
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_unknown_characters_are_named_in_the_error():
    tok = CharTokenizer.from_text(CORPUS)
    with pytest.raises(DataError) as err:
        tok.encode("Before é and ß, é again")
    message = str(err.value)
    assert "'é'" in message and "'ß'" in message
    assert message.count("'é'") == 1 and "\n" not in message


def test_many_unknown_characters_are_summarised():
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(DataError, match=r"and 5 more"):
        tok.encode("0123456789XYZQW")


@pytest.mark.parametrize("text", [CORPUS, "".join(chr(0x400 + i) for i in range(300)) * 2])
def test_encode_corpus_agrees_with_encode(text):
    """The fast path (uint8 for small vocabularies, wider beyond 256) gives the same ids."""
    tok = CharTokenizer.from_text(text)
    ids = encode_corpus(text, tok)
    assert ids.dtype == (torch.uint8 if tok.vocab_size <= 256 else torch.int16)
    assert ids.long().tolist() == tok.encode(text)


def test_encode_corpus_names_unknown_characters():
    with pytest.raises(DataError, match="'z'"):
        encode_corpus("abz", CharTokenizer.from_text("ab"))
