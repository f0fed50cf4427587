"""`minigpt-tui corpus`: where a training text lives, how big it is and its vocabulary."""

import argparse

from data.corpus import load_corpus
from data.tokenizer import visible
from engine import paths


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "corpus",
        help="describe the built-in corpus or a text file",
        description="Print a corpus's path, size, character count "
        "and vocabulary (building the built-in one if needed).",
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="describe this UTF-8 text file (default: the built-in Shakespeare)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.data or "", paths.corpus_cache_dir())
    vocab = corpus.vocab
    lines = corpus.text.count("\n")
    size = corpus.path.stat().st_size if corpus.path else len(corpus.text.encode("utf-8"))
    print(f"corpus:     {corpus.source}")
    print(f"path:       {corpus.path}")
    print(f"size:       {size:,} bytes")
    print(f"characters: {len(corpus.text):,} in {lines:,} lines")
    print(f"vocabulary: {len(vocab)} characters: {''.join(visible(ch) for ch in vocab)}")
    return 0
