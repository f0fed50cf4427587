"""`minigpt-tui export`: a run's model as safetensors, a torch.export program or ONNX."""

import argparse
from pathlib import Path

# engine.export's formats, written out here: importing it would load torch for every --help
FORMATS = ("safetensors", "pt2", "onnx")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a run's model (safetensors, pt2, onnx)",
        description="Export the model of a run directory or checkpoint file. safetensors: "
        "weights with the config and vocabulary as JSON metadata; pt2: a torch.export "
        "program; onnx: needs `pip install 'minigpt-tui[onnx]'`.",
    )
    parser.add_argument(
        "source", type=Path, metavar="RUN_DIR", help="run directory (or checkpoint file) to export"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="safetensors",
        dest="fmt",
        help="file format (default: safetensors)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="file to write (default: model.<format> in the run directory)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.export import default_output, export_model

    out = args.out if args.out is not None else default_output(args.source, args.fmt)
    written = export_model(args.source, args.fmt, out)
    print(f"wrote {written} ({_size(written.stat().st_size)})")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"
