"""Settings: typed sections, layered defaults < preset < settings file < overrides.

The file is TOML with the sections `[model]`, `[train]`, `[sample]` and `[ui]`; it is read
with tomllib and written atomically with tomli_w. A file that fails to load is never
overwritten: the error names the file, the key and the problem.
"""

import copy
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from data.errors import SettingsError
from engine.atomic import atomic_write_bytes
from engine.presets import DEFAULT_PRESET, PRESETS


@dataclass
class ModelSettings:
    n_layer: int = 4
    """Transformer blocks, one after the other."""
    n_head: int = 4
    """Attention heads per block; must divide n_embd."""
    n_embd: int = 128
    """Width of every token's vector (the embedding size)."""
    block_size: int = 64
    """Context length: how many characters the model sees at once."""
    dropout: float = 0.0
    """Fraction of activations zeroed while training, against overfitting."""


@dataclass
class TrainSettings:
    preset: str = DEFAULT_PRESET
    """Recipe applied under these settings: tutorial, small or baby."""
    data: str = ""
    """Training text: a file path, or empty for the built-in Shakespeare."""
    steps: int = 2000
    """Optimizer steps in the whole run."""
    batch_size: int = 12
    """Sequences per micro-batch."""
    lr: float = 1e-3
    """Peak learning rate, reached after the warm-up."""
    min_lr: float = 1e-4
    """Learning rate at the end of the cosine decay."""
    warmup_steps: int = 100
    """Steps of linear warm-up from zero to lr."""
    weight_decay: float = 0.1
    """AdamW weight decay, applied to weight matrices only."""
    grad_clip: float = 1.0
    """Largest gradient norm before clipping; 0 turns clipping off."""
    grad_accum: int = 1
    """Micro-batches whose gradients add up to one step."""
    eval_interval: int = 250
    """Steps between evaluations (and samples)."""
    eval_batches: int = 20
    """Batches averaged for each evaluation's train and validation loss."""
    checkpoint_interval: int = 250
    """Steps between checkpoints; one is also written at the end and on stop."""
    val_fraction: float = 0.1
    """Share of the text, taken from its end, held out for validation."""
    seed: int = 1337
    """Seed for initial weights, batches and dropout: the same seed, the same run."""
    device: str = "auto"
    """auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."""


@dataclass
class SampleSettings:
    prompt: str = "ROMEO:\n"
    """Text the samples start from; the same at every evaluation so progress shows."""
    length: int = 200
    """Characters generated per sample."""
    temperature: float = 1.0
    """Divides the logits: below 1 sharpens, above 1 flattens; 0 means greedy."""
    top_k: int = 0
    """Keep only the k most likely characters; 0 keeps them all."""
    top_p: float = 1.0
    """Keep the smallest set of characters whose probabilities sum to at least p."""
    seed: int = 1337
    """Seed for sampling."""


@dataclass
class UISettings:
    theme: str = "textual-dark"
    """The dashboard's Textual theme."""


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)
    ui: UISettings = field(default_factory=UISettings)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return asdict(self)


SECTIONS = {f.name: f.default_factory for f in fields(Settings)}  # type: ignore[misc]
Layer = dict[str, dict[str, Any]]


def section_fields(section: str) -> dict[str, type]:
    return {f.name: f.type for f in fields(SECTIONS[section]())}  # type: ignore[arg-type]


def check_layer(layer: dict[str, Any], origin: str) -> Layer:
    """layer with every section, key and type checked; ints are accepted where floats go."""
    for section, values in layer.items():
        if section not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise SettingsError(f"{origin}: unknown section [{section}] (known: {known})")
        if not isinstance(values, dict):
            raise SettingsError(f"{origin}: {section} must be a [{section}] table")
        types = section_fields(section)
        for key, value in values.items():
            if key not in types:
                raise SettingsError(
                    f"{origin}: unknown key {section}.{key} (known: {', '.join(types)})"
                )
            values[key] = _coerce(value, types[key], f"{origin}: {section}.{key}")
    return layer


def _coerce(value: Any, kind: type, where: str) -> Any:
    names = {int: "a whole number", float: "a number", str: "a string"}
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise SettingsError(f"{where}: expected {names[kind]}, got {value!r}")
    return value


def validate(s: Settings, origin: str) -> Settings:
    """Raise SettingsError for the first value out of range or inconsistent with another."""
    m, t, p = s.model, s.train, s.sample
    rules: list[tuple[bool, str, str]] = [
        (m.n_layer >= 1, "model.n_layer", "must be at least 1"),
        (m.n_head >= 1, "model.n_head", "must be at least 1"),
        (m.n_embd >= 1, "model.n_embd", "must be at least 1"),
        (
            m.n_embd % max(m.n_head, 1) == 0,
            "model.n_embd",
            f"{m.n_embd} is not divisible by model.n_head = {m.n_head}",
        ),
        (m.block_size >= 1, "model.block_size", "must be at least 1"),
        (0.0 <= m.dropout < 1.0, "model.dropout", "must be in [0, 1)"),
        (t.preset in PRESETS, "train.preset", f"must be one of {', '.join(PRESETS)}"),
        (t.steps >= 1, "train.steps", "must be at least 1"),
        (t.batch_size >= 1, "train.batch_size", "must be at least 1"),
        (t.lr > 0, "train.lr", "must be above 0"),
        (0 <= t.min_lr <= t.lr, "train.min_lr", f"must be between 0 and train.lr = {t.lr}"),
        (t.warmup_steps >= 0, "train.warmup_steps", "must be 0 or more"),
        (t.weight_decay >= 0, "train.weight_decay", "must be 0 or more"),
        (t.grad_clip >= 0, "train.grad_clip", "must be 0 (off) or more"),
        (t.grad_accum >= 1, "train.grad_accum", "must be at least 1"),
        (t.eval_interval >= 1, "train.eval_interval", "must be at least 1"),
        (t.eval_batches >= 1, "train.eval_batches", "must be at least 1"),
        (t.checkpoint_interval >= 1, "train.checkpoint_interval", "must be at least 1"),
        (0.0 < t.val_fraction < 1.0, "train.val_fraction", "must be between 0 and 1"),
        (t.seed >= 0, "train.seed", "must be 0 or more"),
        (_known_device(t.device), "train.device", "must be auto, cpu, cuda, cuda:N or mps"),
        (len(p.prompt) >= 1, "sample.prompt", "must not be empty"),
        (p.length >= 1, "sample.length", "must be at least 1"),
        (p.temperature >= 0, "sample.temperature", "must be 0 (greedy) or more"),
        (p.top_k >= 0, "sample.top_k", "must be 0 (keep all) or more"),
        (0.0 < p.top_p <= 1.0, "sample.top_p", "must be above 0 and at most 1"),
        (p.seed >= 0, "sample.seed", "must be 0 or more"),
        (bool(s.ui.theme), "ui.theme", "must not be empty"),
    ]
    for ok, key, problem in rules:
        if not ok:
            value = getattr(getattr(s, key.split(".")[0]), key.split(".")[1])
            raise SettingsError(f"{origin}: {key} = {value!r}: {problem}")
    return s


def _known_device(device: str) -> bool:
    if device in ("auto", "cpu", "cuda", "mps"):
        return True
    return device.startswith("cuda:") and device[5:].isdigit()


def merge(*layers: Layer) -> Settings:
    """Settings from the defaults with each layer laid over the one before."""
    data = Settings().to_dict()
    for layer in layers:
        for section, values in layer.items():
            data[section].update(values)
    return Settings(**{name: SECTIONS[name](**values) for name, values in data.items()})


def resolve(file_layer: Layer, overrides: Layer, origin: str = "settings") -> Settings:
    """The effective settings: defaults < preset < settings file < overrides."""
    chosen = merge(file_layer, overrides).train.preset
    if chosen not in PRESETS:
        raise SettingsError(
            f"{origin}: train.preset = {chosen!r}: must be one of {', '.join(PRESETS)}"
        )
    preset = copy.deepcopy(PRESETS[chosen])
    return validate(merge(preset, file_layer, overrides), origin)


def read_layer(path: Path) -> Layer:
    """The settings file's contents, checked; an absent file is an empty layer."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read it ({exc.strerror})") from None
    return check_layer(raw, str(path))


def load_settings(path: Path, overrides: Layer | None = None) -> Settings:
    """The effective settings with path's file (if any) and the given overrides applied.

    The file is checked on its own first, so that an error names the file when the file is
    at fault and the command line when an override is.
    """
    file_layer = read_layer(path)
    settings = resolve(file_layer, {}, str(path))
    if not overrides:
        return settings
    return resolve(file_layer, overrides, "command line")


def save_layer(path: Path, layer: Layer) -> None:
    """Write a settings layer as TOML, atomically; the old file stays if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {section: values for section, values in layer.items() if values}
    atomic_write_bytes(path, tomli_w.dumps(clean).encode("utf-8"))


def parse_override(text: str) -> Layer:
    """`section.key=value` as a one-entry layer; the value is read as TOML, else as a string."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise SettingsError(f"--set {text!r}: expected section.key=value, e.g. train.lr=3e-4")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if (
        section in SECTIONS
        and section_fields(section).get(key) is str
        and not isinstance(value, str)
    ):
        value = raw  # `--set sample.prompt=42` means the text "42"
    return check_layer({section: {key: value}}, "--set")


def merge_layers(*layers: Layer) -> Layer:
    out: Layer = {}
    for layer in layers:
        for section, values in layer.items():
            out.setdefault(section, {}).update(values)
    return out
