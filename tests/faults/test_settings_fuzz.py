"""Arbitrary settings files never crash the loader and are never changed by it."""

from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.errors import SettingsError
from engine.settings import SECTIONS, Settings, load_settings, section_fields

KNOWN_KEYS = [(s, k) for s in SECTIONS for k in section_fields(s)]
VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
KNOWN_ENTRY = st.sampled_from(KNOWN_KEYS).flatmap(
    lambda sk: st.tuples(st.just(sk[0]), st.just(sk[1]), VALUES)
)
ANY_ENTRY = st.one_of(KNOWN_ENTRY, st.tuples(NAMES, NAMES, VALUES))


def document(entries: list[tuple[str, str, object]]) -> dict:
    doc: dict = {}
    for section, key, value in entries:
        doc.setdefault(section, {})[key] = value
    return doc


def check_load(path: Path) -> None:
    """Loading either succeeds or names the file and a key; the file is left as it was."""
    before = path.read_bytes()
    try:
        loaded = load_settings(path)
    except SettingsError as exc:
        message = str(exc)
        assert str(path) in message
        assert "\n" not in message.strip() or "invalid TOML" in message
    else:
        assert isinstance(loaded, Settings)
    assert path.read_bytes() == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ANY_ENTRY, max_size=6))
def test_arbitrary_documents_load_or_name_the_key(tmp_path, entries):
    path = tmp_path / "settings.toml"
    doc = document(entries)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    check_load(path)
    try:
        load_settings(path)
    except SettingsError as exc:
        named = [f"{s}.{k}" for s, keys in doc.items() for k in keys] + [f"[{s}]" for s in doc]
        assert any(name in str(exc) for name in named), str(exc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path, raw):
    path = tmp_path / "settings.toml"
    path.write_bytes(raw)
    check_load(path)
