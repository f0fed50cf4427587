"""Options shared by the dashboard and `train`, and turning them into settings overrides."""

import argparse
from pathlib import Path

from engine.presets import PRESETS
from engine.settings import Layer, merge_layers, parse_override


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="train on this UTF-8 text file (default: the built-in Shakespeare)",
    )
    parser.add_argument("--preset", choices=list(PRESETS), help="model and schedule recipe")
    parser.add_argument("--steps", type=positive_int, metavar="N", help="optimizer steps")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one setting, e.g. train.lr=3e-4",
    )
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    return _whole_number(text, 0)


def whole_number(text: str) -> int:
    """An argparse type: any whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _whole_number(text: str, least: int) -> int:
    value = whole_number(text)
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
    return value


def overrides_from(args: argparse.Namespace) -> Layer:
    """--set values plus the named shortcuts (--data, --preset, --steps, ...) as one layer."""
    layers = [parse_override(text) for text in args.overrides]
    shortcuts = {
        "data": getattr(args, "data", None),
        "preset": getattr(args, "preset", None),
        "steps": getattr(args, "steps", None),
        "device": getattr(args, "device", None),
        "seed": getattr(args, "seed", None),
    }
    if args.data is not None:
        shortcuts["data"] = str(Path(args.data).expanduser().resolve())
    train = {key: value for key, value in shortcuts.items() if value is not None}
    return merge_layers(*layers, {"train": train} if train else {})
