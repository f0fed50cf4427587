"""Reading a user's text file: every way a file can be unusable gets one line naming it."""

from pathlib import Path

import pytest

from data.corpus import load_corpus
from data.errors import DataError
from tests.unprivileged import run_python, unreadable_file


def test_a_text_file_is_read_as_a_corpus(tiny_corpus, tmp_path):
    corpus = load_corpus(str(tiny_corpus), tmp_path)
    assert corpus.text == tiny_corpus.read_text(encoding="utf-8")
    assert corpus.source == str(tiny_corpus) and corpus.path == tiny_corpus
    assert corpus.vocab == "".join(sorted(set(corpus.text)))


def test_a_user_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.txt").write_text("hello there", encoding="utf-8")
    assert load_corpus("~/mine.txt", tmp_path).text == "hello there"


def bad_file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "latin1":
        path.write_bytes("Où est la plume de ma tante?".encode("latin-1"))
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("empty", "the file is empty"),
        ("latin1", "is not UTF-8 text (invalid byte at offset 1)"),
        ("binary", "looks like a binary file"),
    ],
)
def test_each_bad_file_is_one_line_naming_it(kind, problem, tmp_path):
    path = bad_file(kind, tmp_path)
    with pytest.raises(DataError) as err:
        load_corpus(str(path), tmp_path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


def test_an_unreadable_file_is_one_line_naming_it(tmp_path):
    path = unreadable_file(tmp_path, "secret.txt", "a perfectly good corpus")
    code = (
        "import sys; from pathlib import Path; from data.corpus import read_text_file\n"
        "from data.errors import DataError\n"
        "try:\n    read_text_file(Path(sys.argv[1]))\n"
        "except DataError as exc:\n    print(exc)\n"
    )
    out = run_python(code, str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{path}: permission denied, cannot read it\n"
