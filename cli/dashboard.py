"""`minigpt-tui` with no subcommand."""

import argparse

from cli import train
from cli.options import add_run_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    parser.set_defaults(run=run, out=None, device=None, seed=None, quiet=False)


def run(args: argparse.Namespace) -> int:
    return train.run(args)
