"""The one exception family for failures a user can cause and fix."""


class MinigptError(Exception):
    """An expected failure: bad input, a missing file, an invalid setting.

    The message names the file, key or value and says what to do; callers show it as one
    line (the CLI) or a notification (the dashboard), never as a traceback.
    """

    title = "Error"


class DataError(MinigptError):
    """A corpus or a prompt that cannot be used."""

    title = "Bad data"


class SettingsError(MinigptError):
    """A settings file or override that cannot be used."""

    title = "Bad settings"


class CheckpointError(MinigptError):
    """A checkpoint or run directory that cannot be used."""

    title = "Bad checkpoint"


class RunError(MinigptError):
    """A run directory in a state that forbids the request."""

    title = "Run unavailable"
