"""The settings form: every setting with its explanation, checked as you type.

It edits the user's settings file and, opened with `n`, is also the form for a new run.
Saving writes only what differs from the defaults and the chosen preset (plus whatever the
file already set), so a later change of preset still changes the model.
"""

import ast
import inspect
import math
from functools import cache
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Select, Static

import engine.settings as settings_module
from data.errors import SettingsError
from engine import paths
from engine.presets import PRESETS
from engine.settings import (
    SECTIONS,
    Layer,
    Settings,
    merge,
    read_layer,
    resolve,
    save_layer,
    section_fields,
    validate,
)

ESCAPED_FIELDS = ("sample.prompt",)  # shown with \n for newlines, since an Input is one line


@cache
def field_docs() -> dict[str, str]:
    """`section.key` -> the docstring written under that field in engine/settings.py."""
    tree = ast.parse(inspect.getsource(settings_module))
    sections = {cls.__name__: name for name, cls in SECTIONS.items()}  # type: ignore[attr-defined]
    docs = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name not in sections:
            continue
        for field, doc in zip(node.body, node.body[1:]):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
            ):
                docs[f"{sections[node.name]}.{field.target.id}"] = str(doc.value.value)
    return docs


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape(text: str) -> str:
    out, chars = [], iter(text)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "\\")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


def parse_value(text: str, kind: type, key: str) -> Any:
    """The typed value of a form field; ValueError with the reason otherwise."""
    if kind is int:
        try:
            return int(text.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if kind is float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value
    return unescape(text) if key in ESCAPED_FIELDS else text


def shown_value(key: str, value: Any) -> str:
    return escape(value) if key in ESCAPED_FIELDS else str(value)


def file_layer_to_save(settings: Settings, existing: Layer) -> Layer:
    """What to write: values unlike the defaults and preset, and keys the file already had."""
    base = resolve({}, {"train": {"preset": settings.train.preset}}).to_dict()
    chosen = settings.to_dict()
    layer: Layer = {}
    for section, values in chosen.items():
        kept = {
            k: v
            for k, v in values.items()
            if v != base[section][k] or k in existing.get(section, {})
        }
        if section == "train" and settings.train.preset != base["train"]["preset"]:
            kept["preset"] = settings.train.preset
        if kept:
            layer[section] = kept
    return layer


class SettingsScreen(Screen[Settings | None]):
    """Edit settings; saving writes settings.toml, starting (new-run form) returns them."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save as defaults"),
        Binding("ctrl+r", "start", "Start run"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, settings: Settings, new_run: bool, note: str = "") -> None:
        super().__init__()
        self.initial = settings
        self.new_run = new_run
        self.note = note
        self.errors: dict[str, str] = {}
        self.original_theme = ""
        self.preset = settings.train.preset

    def compose(self) -> ComposeResult:
        docs = field_docs()
        title = "New run: settings" if self.new_run else "Settings"
        yield Static(title, id="settings-title")
        if self.note:
            yield Static(self.note, id="settings-note")
        with VerticalScroll(id="settings-form"):
            values = self.initial.to_dict()
            for section in SECTIONS:
                yield Static(f"[{section}]", classes="settings-section", markup=False)
                for key in section_fields(section):
                    name = f"{section}.{key}"
                    with Vertical(classes="setting", id=f"row-{section}-{key}"):
                        with Horizontal(classes="setting-line"):
                            yield Label(key, classes="setting-key")
                            yield self._editor(section, key, values[section][key])
                        yield Static(docs.get(name, ""), classes="setting-doc")
                        yield Static(classes="setting-error", id=f"error-{section}-{key}")
        yield Static(id="settings-status")
        yield Footer()

    def _editor(self, section: str, key: str, value: Any) -> Input | Select:
        widget_id = f"{section}-{key}"
        if (section, key) == ("train", "preset"):
            return Select(
                [(p, p) for p in PRESETS],
                value=value,
                allow_blank=False,
                id=widget_id,
                compact=True,
            )
        if (section, key) == ("ui", "theme"):
            themes = sorted(self.app.available_themes)
            if value not in themes:
                themes.append(value)
            return Select(
                [(t, t) for t in themes], value=value, allow_blank=False, id=widget_id, compact=True
            )
        return Input(shown_value(f"{section}.{key}", value), id=widget_id, compact=True)

    def on_mount(self) -> None:
        self.original_theme = self.app.theme
        self.query_one("#settings-form Input").focus()
        self.check()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.check()

    def on_select_changed(self, event: Select.Changed) -> None:
        # a Select announces its first value too; only a new choice of preset fills the form
        if (
            event.select.id == "train-preset"
            and event.value in PRESETS
            and event.value != self.preset
        ):
            self.preset = str(event.value)
            self._apply_preset(self.preset)
        if event.select.id == "ui-theme" and isinstance(event.value, str):
            self.app.preview_theme(event.value)  # type: ignore[attr-defined]
        self.check()

    def _apply_preset(self, preset: str) -> None:
        """Show the preset's own model and schedule in the fields it sets."""
        for section, values in PRESETS[preset].items():
            for key, value in values.items():
                self.query_one(f"#{section}-{key}", Input).value = shown_value(
                    f"{section}.{key}", value
                )

    def values(self) -> tuple[Layer, dict[str, str]]:
        """The form as a layer, and the reason for each field that cannot be read."""
        layer: Layer = {}
        errors: dict[str, str] = {}
        for section in SECTIONS:
            for key, kind in section_fields(section).items():
                widget = self.query_one(f"#{section}-{key}")
                raw = widget.value
                try:
                    value = parse_value(str(raw), kind, f"{section}.{key}")
                except ValueError as exc:
                    errors[f"{section}.{key}"] = str(exc)
                    continue
                layer.setdefault(section, {})[key] = value
        return layer, errors

    def check(self) -> Settings | None:
        """Validate the whole form, mark what is wrong and say why; the settings if all is well."""
        layer, errors = self.values()
        settings = None
        if not errors:
            try:
                settings = validate(merge(layer), "form")
            except SettingsError as exc:
                key, _, _ = str(exc).removeprefix("form: ").partition(" = ")
                errors[key] = str(exc).removeprefix("form: ")
        if (
            settings is not None
            and settings.train.data not in ("", "shakespeare")
            and not Path(settings.train.data).expanduser().is_file()
        ):
            errors["train.data"] = f"{settings.train.data}: no such file"
            settings = None
        self._show_errors(errors)
        return settings

    def _show_errors(self, errors: dict[str, str]) -> None:
        self.errors = errors
        for section in SECTIONS:
            for key in section_fields(section):
                name = f"{section}.{key}"
                row = self.query_one(f"#row-{section}-{key}")
                row.set_class(name in errors, "-invalid")
                self.query_one(f"#error-{section}-{key}", Static).update(
                    Content(errors.get(name, ""))
                )
        status = self.query_one("#settings-status", Static)
        if errors:
            first = next(iter(errors.items()))
            status.update(Content.assemble(("invalid: ", "bold $error"), f"{first[0]}: {first[1]}"))
        else:
            status.update(Content.assemble(("all settings valid", "$success")))

    def action_save(self) -> None:
        settings = self.check()
        if settings is None:
            reason = next(iter(self.errors.values()), "invalid settings")
            self.notify(reason, title="Not saved", severity="error")
            return
        path = paths.settings_path()
        try:
            layer = file_layer_to_save(settings, read_layer(path))
            save_layer(path, layer)
        except (SettingsError, OSError) as exc:
            self.notify(str(exc), title="Not saved", severity="error")
            return
        self.original_theme = settings.ui.theme
        self.notify(f"Saved to {path}", title="Settings")
        if not self.new_run:
            self.dismiss(None)

    def action_start(self) -> None:
        if not self.new_run:
            return
        settings = self.check()
        if settings is None:
            reason = next(iter(self.errors.values()), "invalid settings")
            self.notify(reason, title="Not started", severity="error")
            return
        self.app.keep_theme(settings.ui.theme)  # type: ignore[attr-defined]
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.app.preview_theme(self.original_theme)  # type: ignore[attr-defined]
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.new_run if action == "start" else True
