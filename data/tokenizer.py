"""A character-level tokenizer: one id per distinct character, in sorted order."""

from collections.abc import Iterable

from data.errors import DataError


def visible(ch: str) -> str:
    """A printable stand-in for characters that would be invisible on screen."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}.get(ch, ch)


class CharTokenizer:
    """Maps characters to ids and back; the vocabulary is the sorted set of characters."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = sorted(set(chars))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """Build the vocabulary of a corpus."""
        return cls(set(text))

    @classmethod
    def from_vocab(cls, vocab: str) -> "CharTokenizer":
        """Rebuild a tokenizer from the string saved in a checkpoint."""
        return cls(vocab)

    @property
    def vocab(self) -> str:
        """The vocabulary as one string, the form stored in checkpoints."""
        return "".join(self.chars)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of text that the vocabulary lacks, in order of appearance."""
        missing = set(text).difference(self.stoi)  # set() scans in C: fast on 100 MB corpora
        return sorted(missing, key=text.index)

    def encode(self, text: str) -> list[int]:
        """Ids for text; raises DataError naming any characters outside the vocabulary."""
        missing = self.unknown(text)
        if missing:
            shown = ", ".join(repr(ch) for ch in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise DataError(f"characters not in the model's vocabulary: {shown}{more}")
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)
