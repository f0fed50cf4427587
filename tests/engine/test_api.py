"""The Python API: every kind of file a user may hold gives the same model and the same text."""

import zipfile

import pytest
import torch

from data.errors import CheckpointError, DataError
from engine.api import load_text_model
from engine.export import export_model


def test_run_checkpoint_safetensors_and_pt2_generate_the_same_text(finished_run, tmp_path):
    sources = [
        finished_run.path,
        finished_run.checkpoint,
        export_model(finished_run.path, "safetensors", tmp_path / "m.safetensors"),
        export_model(finished_run.path, "pt2", tmp_path / "m.pt2"),
    ]
    models = [load_text_model(str(s)) for s in sources]
    texts = [m.generate("All:\n", length=40, temperature=0.8, seed=5) for m in models]
    logits = [m.logits("First Citizen:") for m in models]

    assert len(texts[0]) == 40 and set(texts[0]) <= set(models[0].vocab)
    assert texts == [texts[0]] * 4
    for other in logits[1:]:
        torch.testing.assert_close(other, logits[0], atol=1e-6, rtol=0)
    assert logits[0].shape == (14, len(models[0].vocab))
    assert {m.step for m in models} == {30}


def test_generation_options_and_prompt_checks(finished_run):
    model = load_text_model(finished_run.path)
    greedy = model.generate("All:", length=30, temperature=0)
    assert greedy == model.generate("All:", length=30, temperature=0, seed=99)
    assert model.generate("All:", length=30, seed=1) == model.generate("All:", length=30, seed=1)
    assert model.generate("All:", length=0) == ""
    # a long prompt is cropped to the context rather than refused
    assert len(model.generate("Speak, speak. " * 10, length=5, seed=1)) == 5

    with pytest.raises(DataError, match="'Z'"):
        model.generate("ZEBRA", length=5)
    with pytest.raises(DataError, match="empty"):
        model.generate("", length=5)
    with pytest.raises(DataError, match="top_p"):
        model.generate("All:", top_p=0)


def test_unusable_paths_raise_errors_that_name_them(tmp_path):
    for path in (
        tmp_path / "nothing.pt2",
        tmp_path / "nothing.safetensors",
        tmp_path / "nothing.pt",
    ):
        with pytest.raises(CheckpointError, match=path.name):
            load_text_model(path)
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.pt2"):
        load_text_model(bad)
    other_zip = tmp_path / "other.pt2"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "not a program")
    with pytest.raises(CheckpointError, match="other.pt2"):
        load_text_model(other_zip)
