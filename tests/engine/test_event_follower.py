"""EventFollower under any interleaving of writes and reads, garbage, shrinking and replacing.

The reference is the list of events the test wrote: whatever the chunking, the follower hands
each one back exactly once, in order, and nothing else.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    EventFollower,
    SampleEvent,
    StepEvent,
    WarningEvent,
)

_text = st.text(max_size=20)  # any Unicode, newlines and quotes included
_finite = st.floats(allow_nan=False, width=32)
_events = st.one_of(
    st.builds(
        lambda s, x: StepEvent(s, loss=x, lr=0.001, tokens_per_s=1.0),
        st.integers(0, 10**6),
        _finite,
    ),
    st.builds(lambda s, x: EvalEvent(s, train_loss=x, val_loss=x), st.integers(0, 10**6), _finite),
    st.builds(lambda s, t, p: SampleEvent(s, text=t, prompt=p), st.integers(0, 99), _text, _text),
    st.builds(lambda s, t: WarningEvent(s, message=t), st.integers(0, 99), _text),
    st.builds(lambda s, t: CheckpointEvent(s, path=t), st.integers(0, 99), _text),
    st.builds(lambda s: DoneEvent(s), st.integers(0, 99)),
)


def _line(event) -> bytes:
    return event.to_json().encode("utf-8") + b"\n"


# lines that are never events: torn JSON, bytes that are not JSON or not UTF-8, JSON of the
# wrong shape, and events with a field missing
_garbage = st.one_of(
    _events.map(lambda e: _line(e)[: len(_line(e)) // 2].replace(b"\n", b"")).filter(bool),
    st.binary(min_size=1, max_size=30).filter(
        lambda b: b"\n" not in b and b.strip()[:1] != b"{" and b.strip()
    ),
    st.sampled_from(
        [
            b"[1, 2]",
            b"42",
            b'"step"',
            b'{"type": "nope", "step": 1, "time": 1}',
            b'{"type": "step", "step": 1}',
            b'{"type": "eval", "step": "1", "time": 1, "train_loss": 1, "val_loss": 1}',
            b"\xff\xfe{}",
            b"[" * 100_000,
        ]
    ),
).map(lambda b: b + b"\n")

_chunk_cuts = st.lists(st.integers(0, 10**6), max_size=12)
_fixture_ok = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _write_in_pieces(path: Path, data: bytes, cuts: list[int], follower: EventFollower) -> list:
    """Append data in pieces cut at the given offsets, reading after each piece."""
    seen = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in zip(points, points[1:]):
        with open(path, "ab") as f:
            f.write(data[a:b])
        seen += follower.read_new()
    return seen


@_fixture_ok
@given(events=st.lists(_events, max_size=20), cuts=_chunk_cuts)
def test_every_event_arrives_once_however_the_writes_are_cut(tmp_path, events, cuts):
    path = tmp_path / "events.jsonl"
    path.unlink(missing_ok=True)
    follower = EventFollower(path)
    assert follower.read_new() == []  # no file yet

    seen = _write_in_pieces(path, b"".join(map(_line, events)), cuts, follower)
    assert seen == events
    assert follower.skipped == 0


@_fixture_ok
@given(
    lines=st.lists(st.one_of(_events, _garbage, st.just(b"\n"), st.just(b"  \n")), max_size=25),
    cuts=_chunk_cuts,
)
def test_garbage_is_skipped_and_counted_and_events_survive_it(tmp_path, lines, cuts):
    path = tmp_path / "events.jsonl"
    path.unlink(missing_ok=True)
    follower = EventFollower(path)

    data = b"".join(x if isinstance(x, bytes) else _line(x) for x in lines)
    seen = _write_in_pieces(path, data, cuts, follower)
    assert seen == [x for x in lines if not isinstance(x, bytes)]
    assert follower.skipped == sum(1 for x in lines if isinstance(x, bytes) and x.strip())


@_fixture_ok
@given(
    first=st.lists(_events, min_size=1, max_size=10),
    second=st.lists(_events, max_size=10),
    torn=st.booleans(),
    how=st.sampled_from(["replace", "truncate"]),
)
def test_a_replaced_or_shrunk_file_is_read_from_its_start(tmp_path, first, second, torn, how):
    path = tmp_path / "events.jsonl"
    path.unlink(missing_ok=True)
    follower = EventFollower(path)
    old = b"".join(map(_line, first))
    path.write_bytes(old + (b'{"type": "step", "st' if torn else b""))
    assert follower.read_new() == first

    new = b"".join(map(_line, second))
    if how == "replace":
        # a new file renamed over the old one, as an atomic rewrite does: a new inode
        tmp = tmp_path / "events.jsonl.tmp"
        tmp.write_bytes(new)
        os.replace(tmp, path)
    else:
        if len(new) >= len(old):
            new = b""  # same inode and not shorter: indistinguishable from appending
            second = []
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(new)
    assert follower.read_new() == second
    assert follower.skipped == 0
