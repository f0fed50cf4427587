"""Settings: defaults < preset < settings file < --set, and one precise error for each mistake."""

import tomllib
from pathlib import Path

import pytest

from data.errors import SettingsError
from engine import paths
from engine.settings import Settings, load_settings, parse_override, save_layer
from tests.unprivileged import run_python, unreadable_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_settings_file_lives_in_the_xdg_config_folder(isolated_dirs):
    assert paths.settings_path() == isolated_dirs / "config" / "minigpt-tui" / "settings.toml"
    assert paths.runs_dir() == isolated_dirs / "data" / "minigpt-tui" / "runs"


def test_without_a_file_the_default_preset_applies_over_the_defaults(tmp_path):
    s = load_settings(tmp_path / "absent.toml")
    assert s.train.preset == "small"
    shape = (s.model.n_layer, s.model.n_embd, s.train.batch_size, s.train.steps)
    assert shape == (4, 128, 12, 2000)
    assert s.sample == Settings().sample


def test_each_layer_overrides_the_one_below(tmp_path):
    path = write(
        tmp_path / "settings.toml",
        """
[train]
preset = "tutorial"
steps = 300
lr = 2e-3
[sample]
temperature = 0.8
""",
    )
    s = load_settings(path, parse_override("train.lr=4e-3"))
    assert s.model.n_layer == 1 and s.train.batch_size == 16  # the preset over the defaults
    assert s.train.steps == 300  # the file over the preset
    assert s.train.lr == 4e-3  # --set over the file
    assert s.sample.temperature == 0.8 and s.sample.top_k == 0  # the file, then the defaults
    assert s.train.weight_decay == 0.1  # nobody set it: the default


def test_a_preset_chosen_on_the_command_line_applies_under_the_file(tmp_path):
    path = write(tmp_path / "settings.toml", "[train]\nsteps = 50\n")
    s = load_settings(path, {"train": {"preset": "baby"}})
    assert (s.model.n_layer, s.model.n_embd, s.model.dropout) == (6, 384, 0.2)
    assert s.train.steps == 50


def test_an_int_is_taken_where_a_float_goes_and_saving_round_trips(tmp_path):
    path = write(tmp_path / "settings.toml", "[train]\nlr = 1\nmin_lr = 0\n")
    s = load_settings(path)
    assert s.train.lr == 1.0 and isinstance(s.train.lr, float)
    save_layer(path, {"train": {"lr": 3e-4}, "model": {}, "sample": {"prompt": "JULIET:\n"}})
    assert tomllib.loads(path.read_text()) == {
        "train": {"lr": 3e-4},
        "sample": {"prompt": "JULIET:\n"},
    }
    assert load_settings(path).sample.prompt == "JULIET:\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[train\nlr = 1", "invalid TOML"),
        ("[optimizer]\nlr = 1\n", "unknown section [optimizer]"),
        ("[train]\nlearning_rate = 1\n", "unknown key train.learning_rate"),
        ('[model]\nn_layer = "four"\n', "model.n_layer: expected a whole number, got 'four'"),
        ("[model]\nn_layer = 2.5\n", "model.n_layer: expected a whole number, got 2.5"),
        ("[model]\nn_layer = true\n", "model.n_layer: expected a whole number, got True"),
        ("[sample]\nprompt = 3\n", "sample.prompt: expected a string, got 3"),
        ("train = 3\n", "train must be a [train] table"),
        ("[train]\nlr = -0.1\n", "train.lr = -0.1: must be above 0"),
        ("[model]\ndropout = 1.0\n", "model.dropout = 1.0: must be in [0, 1)"),
        ("[sample]\ntop_p = 0\n", "sample.top_p = 0.0: must be above 0 and at most 1"),
        ('[train]\npreset = "huge"\n', "train.preset = 'huge': must be one of tutorial"),
        ('[train]\ndevice = "tpu"\n', "train.device = 'tpu': must be auto, cpu"),
        (
            "[model]\nn_embd = 100\nn_head = 3\n",
            "model.n_embd = 100: 100 is not divisible by model.n_head = 3",
        ),
    ],
)
def test_each_error_names_the_file_the_key_and_the_problem(tmp_path, text, needle):
    path = write(tmp_path / "settings.toml", text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and needle in message
    assert "\n" not in message
    assert path.read_text(encoding="utf-8") == text


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b'[ui]\ntheme = "caf\xe9"\n')
    with pytest.raises(SettingsError, match=r"settings\.toml: invalid TOML: .*not UTF-8"):
        load_settings(path)


def test_a_settings_path_that_is_a_folder_cannot_be_read(tmp_path):
    (tmp_path / "settings.toml").mkdir()
    with pytest.raises(SettingsError, match=r"settings\.toml: cannot read it \(Is a directory\)"):
        load_settings(tmp_path / "settings.toml")


def test_an_unreadable_settings_file_is_an_error_not_the_defaults(tmp_path):
    path = unreadable_file(tmp_path, "settings.toml", "[train]\nsteps = 5\n")
    code = (
        "import sys; from pathlib import Path; from engine.settings import load_settings\n"
        "from data.errors import SettingsError\n"
        "try:\n    load_settings(Path(sys.argv[1]))\n"
        "except SettingsError as exc:\n    print(exc)\n"
    )
    out = run_python(code, str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{path}: cannot read it (Permission denied)\n"


def test_an_override_error_names_the_command_line_not_the_file(tmp_path):
    path = write(tmp_path / "settings.toml", "[train]\nsteps = 50\n")
    with pytest.raises(SettingsError, match=r"^command line: train\.lr = -1\.0: must be above 0"):
        load_settings(path, parse_override("train.lr=-1"))
    with pytest.raises(SettingsError, match=r"^command line: model\.n_embd = 130: 130 is not"):
        load_settings(path, parse_override("model.n_embd=130"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.lr=3e-4", {"train": {"lr": 3e-4}}),
        ("train.lr=1", {"train": {"lr": 1.0}}),
        ("model.n_layer=6", {"model": {"n_layer": 6}}),
        ("sample.prompt=42", {"sample": {"prompt": "42"}}),
        ("sample.prompt=KING RICHARD III:", {"sample": {"prompt": "KING RICHARD III:"}}),
        ('sample.prompt="ROMEO:\\n"', {"sample": {"prompt": "ROMEO:\n"}}),
        ("ui.theme=nord", {"ui": {"theme": "nord"}}),
    ],
)
def test_set_reads_values_as_toml_and_text_as_text(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lr=3e-4", "expected section.key=value"),
        ("train.lr", "expected section.key=value"),
        ("train.learning_rate=1", "unknown key train.learning_rate"),
        ("training.lr=1", "unknown section [training]"),
        ("model.n_layer=four", "model.n_layer: expected a whole number, got 'four'"),
    ],
)
def test_a_bad_set_is_one_line_naming_it(text, needle):
    with pytest.raises(SettingsError) as err:
        parse_override(text)
    assert str(err.value).startswith("--set") and needle in str(err.value)
