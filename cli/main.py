"""Argument parsing and the one place where expected errors become a line on stderr."""

import argparse
import importlib.metadata
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from data.errors import MinigptError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `minigpt-tui: error: ...` and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> Parser:
    from cli import corpus, dashboard, export, generate, runs, settings_command, train, watch

    parser = Parser(
        prog="minigpt-tui",
        description="Train a small character-level GPT and watch it learn, in the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    dashboard.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (train, settings_command, runs, corpus, export, watch, generate):
        module.add_parser(commands)
    return parser


def version() -> str:
    """The installed package's version, read from its metadata rather than importing torch."""
    try:
        return importlib.metadata.version("minigpt-tui")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MinigptError as exc:
        print(f"minigpt-tui: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        # a second Ctrl-C, or one outside training: stop at once, without a traceback
        print("minigpt-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
