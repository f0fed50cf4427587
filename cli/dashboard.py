"""`minigpt-tui` with no subcommand: the training dashboard.

Bad options, settings or data are refused here, as one line on stderr, before the screen
changes; everything after that is shown inside the dashboard.
"""

import argparse

from cli.options import add_run_options, overrides_from
from data.errors import RunError
from engine import paths
from engine.run_dir import RunDir
from engine.settings import Layer, load_settings, merge, validate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    parser.set_defaults(run=run, out=None, device=None, seed=None, quiet=False)


def run(args: argparse.Namespace) -> int:
    # textual and the app load here, so that `minigpt-tui train` never imports them
    from tui.app import DashboardApp
    from tui.trainer_process import Launch, check_data

    overrides = overrides_from(args)
    if args.resume:
        run_dir = RunDir.open(args.resume)
        if run_dir.trainer_pid() is not None:
            if overrides:
                raise RunError(
                    f"{run_dir.path}: is training now, so its settings cannot "
                    f"change; attach with `minigpt-tui --resume {run_dir.path}`"
                )
            app = DashboardApp(run_dir=run_dir.path)
        else:
            _check_resume(run_dir, overrides)
            app = DashboardApp(launch=Launch(resume=run_dir.path, overrides=overrides))
    else:
        settings = load_settings(paths.settings_path(), overrides)
        check_data(settings)
        app = DashboardApp(launch=Launch(settings=settings), offer_attach=True)
    app.run()
    return app.return_code or 0


def _check_resume(run_dir: RunDir, overrides: Layer) -> None:
    """The checks `train --resume` makes first, so that they fail here and not in the child."""
    from tui.trainer_process import check_data

    if not run_dir.checkpoint.is_file():
        raise RunError(f"{run_dir.checkpoint}: no checkpoint to resume from")
    if overrides.get("model"):
        keys = ", ".join(f"model.{k}" for k in overrides["model"])
        raise RunError(f"{run_dir.path}: cannot change {keys} when resuming; start a new run")
    check_data(validate(merge(run_dir.read_config().to_dict(), overrides), "--set"))
