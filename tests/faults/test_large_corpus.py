"""A corpus of hundreds of MB loads with memory bounded by a small multiple of its size."""

import subprocess
import sys
from pathlib import Path

import pytest

MEASURE = """
import resource, sys
from pathlib import Path
import torch
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from data.batches import encode_corpus
from data.corpus import load_corpus
from data.tokenizer import CharTokenizer
corpus = load_corpus(sys.argv[1], Path(sys.argv[2]))
ids = encode_corpus(corpus.text, CharTokenizer.from_text(corpus.text))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(ids), (peak - base) * 1024)
"""


@pytest.mark.slow
def test_a_300_mb_corpus_needs_at_most_three_times_its_size(tmp_path):
    line = "To be, or not to be, that is the question: whether 'tis nobler in the mind\n"
    big = tmp_path / "big.txt"
    with open(big, "w", encoding="utf-8") as f:
        for _ in range(300_000_000 // (len(line) * 1000)):
            f.write(line * 1000)
    size = big.stat().st_size

    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(big), str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert int(out[0]) == size
    # the text and its ids must both be held; read-and-decode briefly holds the bytes too
    assert int(out[1]) < 3 * size, f"peak {int(out[1]) / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
