"""Every place on disk that minigpt-tui reads or writes by default, in one module.

platformdirs honours XDG_CONFIG_HOME and XDG_DATA_HOME, which is how tests keep their files in
a temporary folder.
"""

from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "minigpt-tui"


def config_dir() -> Path:
    return user_config_path(APP_NAME, appauthor=False)


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def data_dir() -> Path:
    return user_data_path(APP_NAME, appauthor=False)


def runs_dir() -> Path:
    return data_dir() / "runs"


def corpus_cache_dir() -> Path:
    return data_dir() / "corpora"
