"""`minigpt-tui settings`: where the settings file is, and what is in effect."""

import argparse

import tomli_w

from engine import paths
from engine.settings import load_settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "settings",
        help="show the settings file and effective settings",
        description="Print the settings file's path and the "
        "effective settings (defaults < preset < file).",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = paths.settings_path()
    settings = load_settings(path)
    state = "" if path.exists() else " (not created yet: defaults in effect)"
    print(f"# settings file: {path}{state}")
    print(tomli_w.dumps(settings.to_dict()), end="")
    return 0
