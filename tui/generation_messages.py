"""Messages from the generation pane's loading workers to the pane."""

from pathlib import Path

from textual.message import Message

from engine.loading import LoadedModel


class ModelLoaded(Message):
    """A checkpoint finished loading; role is "main" or "compare"."""

    def __init__(self, role: str, loaded: LoadedModel) -> None:
        super().__init__()
        self.role = role
        self.loaded = loaded


class ModelLoadFailed(Message):
    """A checkpoint could not be loaded; message names the file and the problem."""

    def __init__(self, role: str, path: Path, message: str) -> None:
        super().__init__()
        self.role = role
        self.path = path
        self.message = message
