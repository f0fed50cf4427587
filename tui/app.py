"""The dashboard app: follows one run directory and controls its trainer.

The trainer is never inside this process. A new run's trainer is a child process in its own
session (tui.trainer_process), so closing the terminal leaves it training; any other run is
followed through its directory alone. A thread worker tails events.jsonl and checks the
trainer's lock; the UI thread only draws.

    DashboardApp()                                    idle: n starts a run, o opens one
    DashboardApp(launch=Launch(settings=s))           start and follow a new run
    DashboardApp(launch=Launch(resume=path))          resume a stopped run and follow it
    DashboardApp(run_dir=path)                        attach to a run, with all controls
    DashboardApp(run_dir=path, read_only=True)        watch a run: no training controls
"""

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState, get_current_worker

from data.errors import MinigptError, SettingsError
from engine import paths
from engine.control import send_command
from engine.events import CheckpointEvent, Event, PausedEvent, ResumedEvent, StartEvent
from engine.run_dir import RunDir
from engine.runs import list_runs
from engine.settings import Settings, UISettings, load_settings, read_layer, save_layer
from tui import heap
from tui.attach_modal import AttachModal
from tui.generation_screen import GenerationScreen
from tui.help_screen import HelpScreen
from tui.messages import EventsReady, FollowSession, TrainerGone, TrainerStatus
from tui.open_modal import OpenModal
from tui.quit_modal import QuitModal
from tui.run_follower import RunFollower
from tui.run_state import LogEntry, RunState
from tui.settings_screen import SettingsScreen
from tui.stop_modal import StopModal
from tui.trainer_process import Launch, TrainerProcess, stop_trainer
from tui.training_screen import TrainingScreen

# How often the worker looks for new events: a step shows up at most this late, and the UI is
# woken at most this often however fast the trainer writes.
POLL_S = 0.25
STATUS_EVERY_S = 1.0

CONTROL_ACTIONS = ("toggle_pause", "stop", "checkpoint", "evaluate")
OWN_ACTIONS = (*CONTROL_ACTIONS, "new_run", "open", "mode", "help", "settings", "quit")


class DashboardApp(App[None]):
    """Live training in the terminal: loss, model, samples, events, and the trainer's controls."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "minigpt-tui"
    MODES = {"training": TrainingScreen, "generation": GenerationScreen}
    DEFAULT_MODE = "training"
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause", tooltip="Pause or resume training"),
        Binding("s", "stop", "Stop", tooltip="Stop the run, saving a checkpoint"),
        Binding("c", "checkpoint", "Save", tooltip="Save a checkpoint now"),
        Binding("e", "evaluate", "Eval", tooltip="Evaluate and sample now"),
        Binding("n", "new_run", "New", tooltip="Start a new run (settings form)"),
        Binding("o", "open", "Open", tooltip="Open a run, or a checkpoint to generate from"),
        Binding("g", "mode('generation')", "Generate", tooltip="The generation pane"),
        Binding("t", "mode('training')", "Training", tooltip="Back to the training dashboard"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="What each panel shows"),
        Binding("q", "quit", "Quit", tooltip="Quit; asks what to do with a training run"),
    ]

    run_dir: reactive[Path | None] = reactive(None)
    """The run directory being followed."""
    model_path: reactive[Path | None] = reactive(None)
    """The checkpoint the generation pane should load: the run's checkpoint.pt, or one opened."""
    checkpoint_step: reactive[int | None] = reactive(None)
    """The step of the run's latest checkpoint; changes each time the trainer saves one."""

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        launch: Launch | None = None,
        read_only: bool = False,
        offer_attach: bool = False,
        runs_root: Path | None = None,
        clock: Callable[[], float] = time.time,
        poll_s: float = POLL_S,
    ) -> None:
        super().__init__()
        self.initial_run = run_dir
        self.launch = launch
        self.read_only = read_only
        self.offer_attach = offer_attach
        self.runs_root = runs_root or paths.runs_dir()
        self.clock = clock
        self.poll_s = poll_s
        self.session: FollowSession | None = None
        self.state: RunState | None = None
        self._pause_wanted: bool | None = None
        self._unsaved_theme: str | None = None

    # --- starting up -------------------------------------------------------------------

    def on_mount(self) -> None:
        heap.settle()
        self._apply_saved_theme()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._show([], new_start=True)
        live = [r for r in list_runs(self.runs_root) if r.alive] if self.offer_attach else []
        if live and (self.launch is None or self.launch.resume is None):
            self.push_screen(
                AttachModal(live, self.clock()),
                lambda choice: self._attach_or_start(choice, live[0].path),
            )
        elif self.launch is not None:
            self.start_run(self.launch)
        elif self.initial_run is not None:
            self.follow(self.initial_run)

    def _attach_or_start(self, choice: str | None, live: Path) -> None:
        if choice == "new" and self.launch is not None:
            self.start_run(self.launch)
        elif choice == "new":
            self.action_new_run()
        else:
            self.follow(live)

    @property
    def training_screen(self) -> TrainingScreen:
        return self.get_screen_stack("training")[0]  # type: ignore[return-value]

    def _panels(self) -> TrainingScreen | None:
        """The training screen, or None before it is composed and once the app is closing."""
        try:
            stack = self.get_screen_stack("training")
        except KeyError:
            return None
        screen = stack[0] if stack else None
        return screen if isinstance(screen, TrainingScreen) and screen.ready else None

    # --- following a run ---------------------------------------------------------------

    def start_run(self, launch: Launch) -> None:
        """Start a trainer child for launch and follow its run; a notification if it cannot."""
        try:
            process = TrainerProcess.start(launch, self.runs_root)
        except MinigptError as exc:
            self.notify(str(exc), title="Cannot start the run", severity="error", timeout=10)
            return
        self.follow(process.run.path, process)

    def follow(self, path: Path, process: TrainerProcess | None = None) -> None:
        """Show the run in path from its first event on, and keep following it."""
        if self.session is not None:
            self.session.stop.set()
        run = RunDir(path)
        self.session = FollowSession(run, process)
        self.state = RunState(name=run.name)
        self._pause_wanted = None
        self.run_dir, self.model_path = run.path, run.checkpoint
        self.checkpoint_step = None
        if panels := self._panels():
            panels.reset()
        self._show([], new_start=True)
        self._follow(self.session)
        self.refresh_bindings()

    @work(thread=True, exit_on_error=False, group="follow", exclusive=True)
    def _follow(self, session: FollowSession) -> None:
        """Tail the run's events and watch its trainer's lock until cancelled."""
        worker = get_current_worker()
        follower = RunFollower(session.run, session.process)
        alive: bool | None = None
        told = 0.0
        while not worker.is_cancelled and not session.stop.is_set():
            update = follower.poll()
            if update.events:
                session.buffer.append(update.events)
                self.post_message(EventsReady(session))
            if update.gone:
                self.post_message(TrainerGone(session, update.gone))
            if update.alive != alive or time.monotonic() - told >= STATUS_EVERY_S:
                alive, told = update.alive, time.monotonic()
                self.post_message(TrainerStatus(session, update.alive, update.pid))
            session.stop.wait(self.poll_s)

    def on_events_ready(self, message: EventsReady) -> None:
        if message.session is self.session:
            self._take(message.session.drain())

    def on_trainer_status(self, message: TrainerStatus) -> None:
        if message.session is not self.session or self.state is None:
            return
        changed = self.state.alive != message.alive
        self.state.alive = message.alive
        if panels := self._panels():
            panels.show_status(self.state, self.clock(), self._note())
        if changed:
            self.refresh_bindings()

    def on_trainer_gone(self, message: TrainerGone) -> None:
        if message.session is not self.session or self.state is None:
            return
        self._take(message.session.drain())
        entries = self.state.trainer_gone(message.reason, self.clock())
        if entries:
            self.notify(
                message.reason, title=f"{self.state.name} failed", severity="error", timeout=10
            )
        self._show(entries)
        self.refresh_bindings()

    def _take(self, events: list[Event]) -> None:
        if not events or self.state is None:
            return
        was, first = self.state.state, self.state.last_event_at is None
        entries = self.state.apply(events)
        if any(isinstance(e, (PausedEvent, ResumedEvent)) for e in events):
            self._pause_wanted = None
        if any(isinstance(e, CheckpointEvent) for e in events):
            self.checkpoint_step = self.state.checkpoint_step
        self._show(entries, new_start=any(isinstance(e, StartEvent) for e in events))
        if self.state.state != was:
            if not first:  # the history read on opening a run is not news
                self._announce(was)
            self.refresh_bindings()

    def _announce(self, was: str) -> None:
        state = self.state
        if state is None or was in ("done", "stopped", "failed"):
            return
        if state.state == "failed":
            self.notify(
                state.failure or "", title=f"{state.name} failed", severity="error", timeout=10
            )
        elif state.state in ("done", "stopped"):
            self.notify(
                f"{state.name} {state.state} at step {state.step:,}; its checkpoint is "
                "ready for the generation pane (g)",
                title="Run ended",
            )

    def _show(self, entries: list[LogEntry], new_start: bool = False) -> None:
        if panels := self._panels():
            panels.show(self.state, entries, self.clock(), self._note(), new_start)

    def _note(self) -> str:
        return "read-only" if self.read_only else ""

    def _log(self, text: str) -> None:
        step = self.state.step if self.state else 0
        self._show([LogEntry(step, "control", text)])

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}",
                title="Following the run stopped",
                severity="error",
                timeout=10,
            )

    # --- controls ----------------------------------------------------------------------

    def trainer_running(self) -> bool:
        """A trainer is working on the followed run (or our child is still starting up)."""
        if self.session is None or self.state is None or self.state.ended:
            return False
        process = self.session.process
        return self.state.alive or (process is not None and process.poll() is None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in OWN_ACTIONS and len(self.screen_stack) > 1:
            return False  # a dialog or form is open: its own keys apply
        if action in (*CONTROL_ACTIONS, "new_run") and self.read_only:
            return False
        if action == "mode":
            return parameters[:1] != (self.current_mode,)
        if action in CONTROL_ACTIONS:
            return (
                True
                if self.state is not None and self.state.alive and not self.state.ended
                else None
            )
        return True

    def _send(self, command: str, text: str) -> None:
        if self.session is None:
            return
        try:
            send_command(self.session.run.control, command)
        except OSError as exc:
            self.notify(
                f"{self.session.run.control}: {exc.strerror}",
                severity="error",
                title=f"Cannot {command}",
            )
            return
        self._log(text)

    def action_toggle_pause(self) -> None:
        if self.state is None:
            return
        paused = self.state.state == "paused" if self._pause_wanted is None else self._pause_wanted
        self._pause_wanted = not paused
        self._send(
            "resume" if paused else "pause", "resume requested" if paused else "pause requested"
        )

    def action_stop(self) -> None:
        if self.session is None or self.state is None:
            return

        def confirmed(stop: bool | None) -> None:
            if stop:
                self._send("stop", "stop requested: saving a checkpoint")

        self.push_screen(StopModal(self.state.name, str(self.session.run.path)), confirmed)

    def action_checkpoint(self) -> None:
        self._send("checkpoint", "checkpoint requested")

    def action_evaluate(self) -> None:
        self._send("eval", "evaluation requested")

    def action_mode(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_open(self) -> None:
        self.push_screen(OpenModal(self.runs_root), self._open_chosen)

    def _open_chosen(self, path: Path | None) -> None:
        if path is None:
            return
        if path.is_file():
            self.model_path = path
            self.notify(f"{path} is the model for the generation pane (g)", title="Checkpoint")
            return
        try:
            RunDir.open(path)
        except MinigptError as exc:
            self.notify(str(exc), title="Cannot open", severity="error")
            return
        if self.trainer_running() and self.session and self.session.run.path != path:
            self.notify(
                f"{self.session.run.name} keeps training; o opens it again", title="Still training"
            )
        self.follow(path)

    def action_new_run(self) -> None:
        settings = self._form_settings()
        if settings is None:
            return
        note = ""
        if self.trainer_running() and self.state is not None:
            note = (
                f"{self.state.name} is training: starting this run stops it first "
                "(it saves a checkpoint and can be resumed)."
            )
        self.push_screen(SettingsScreen(settings, new_run=True, note=note), self._form_done)

    def action_settings(self) -> None:
        settings = self._form_settings(from_run=False)
        if settings is not None:
            self.push_screen(SettingsScreen(settings, new_run=False))

    def _form_settings(self, from_run: bool = True) -> Settings | None:
        """The current run's settings for a new run (else the user's), or None with a notice."""
        if from_run and self.session is not None:
            try:
                return self.session.run.read_config()
            except (MinigptError, OSError):
                pass  # fall back to the settings file below
        try:
            return load_settings(paths.settings_path())
        except SettingsError as exc:
            self.notify(str(exc), title="Settings file", severity="error", timeout=10)
            return None

    def _form_done(self, settings: Settings | None) -> None:
        if settings is None:
            return
        launch = Launch(settings=settings)
        if self.trainer_running() and self.session is not None:
            self.notify(f"Stopping {self.session.run.name} first", title="New run")
            self._stop_then(self.session, lambda: self.start_run(launch))
        else:
            self.start_run(launch)

    async def action_quit(self) -> None:
        if self.read_only or not self.trainer_running() or self.state is None:
            self.exit()
            return
        total = f"/{self.state.max_steps:,}" if self.state.max_steps else ""
        self.push_screen(
            QuitModal(self.state.name, f"step {self.state.step:,}{total}"), self._quit_chosen
        )

    def _quit_chosen(self, choice: str | None) -> None:
        if choice == "leave":
            self.exit()
        elif choice == "stop" and self.session is not None:
            self.notify(
                "Saving a checkpoint and stopping the trainer…", title="Stopping", timeout=30
            )
            self._stop_then(self.session, self.exit)

    @work(thread=True, exit_on_error=False, group="stop")
    def _stop_then(self, session: FollowSession, then: Callable[[], object]) -> None:
        """Stop the session's trainer (waiting for its checkpoint), then run `then` in the UI."""
        clean = stop_trainer(session.run, session.process)
        if not clean:
            self.call_from_thread(
                self.notify, "the trainer did not stop in time and was killed", severity="warning"
            )
        self.call_from_thread(then)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            action, _, rest = binding.action.partition("(")
            parameters = (rest.strip("')"),) if rest else ()
            if binding.tooltip and self.check_action(action, parameters):
                yield SystemCommand(
                    binding.tooltip,
                    f"key: {binding.key_display or binding.key}",
                    lambda a=binding.action: self.run_action(a),
                )
        yield SystemCommand("Settings", "Edit and save your default settings", self.action_settings)
        if isinstance(screen, TrainingScreen):
            yield SystemCommand(
                "Log scale",
                "Loss chart on a log scale, or back (key: l)",
                screen.action_toggle_log_scale,
            )

    # --- theme -------------------------------------------------------------------------

    def _apply_saved_theme(self) -> None:
        try:
            theme = load_settings(paths.settings_path()).ui.theme
        except SettingsError as exc:
            self.notify(str(exc), title="Settings file", severity="error", timeout=10)
            return
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(
                f"[ui] theme = {theme!r} is not a known theme; using {self.theme}",
                title="Settings file",
                severity="warning",
            )

    def preview_theme(self, name: str) -> None:
        """Show a theme without saving it (the settings form, as the user browses)."""
        if name in self.available_themes:
            self._unsaved_theme = name
            self.theme = name

    def keep_theme(self, name: str) -> None:
        """Use this theme and save it as [ui] theme."""
        if name in self.available_themes:
            self._unsaved_theme = None
            self.theme = name
            self._save_theme(name)

    def _theme_changed(self, theme: Theme) -> None:
        # the signal arrives after the change, so a preview is recognised by its name
        if theme.name != self._unsaved_theme:
            self._save_theme(theme.name)

    def _save_theme(self, name: str) -> None:
        path = paths.settings_path()
        try:
            layer = read_layer(path)
            if layer.get("ui", {}).get("theme", UISettings().theme) == name:
                return
            layer.setdefault("ui", {})["theme"] = name
            save_layer(path, layer)
        except (SettingsError, OSError) as exc:
            self.notify(str(exc), title="Theme not saved", severity="warning")

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.stop.set()
