"""The trainer: loss falls, runs repeat, resumes continue exactly, failures end cleanly."""

import copy
import math
import threading
from pathlib import Path

import pytest
import torch

from data.corpus import Corpus, load_corpus
from engine.checkpoint import load_checkpoint
from engine.control import Control
from engine.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    Event,
    FailedEvent,
    PausedEvent,
    ResumedEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    WarningEvent,
)
from engine.loading import load_model
from engine.settings import Settings, TrainSettings
from engine.trainer import Trainer, lr_at, make_optimizer


def corpus_of(settings: Settings) -> Corpus:
    return load_corpus(settings.train.data, Path("unused"))


def train(settings: Settings, **kwargs) -> list[Event]:
    return list(Trainer(settings, corpus_of(settings), **kwargs).run())


def losses(events: list[Event]) -> dict[int, float]:
    return {e.step: e.loss for e in events if isinstance(e, StepEvent)}


def evals(events: list[Event]) -> dict[int, tuple[float, float]]:
    return {e.step: (e.train_loss, e.val_loss) for e in events if isinstance(e, EvalEvent)}


def with_changes(settings: Settings, **sections: dict) -> Settings:
    changed = copy.deepcopy(settings)
    for section, values in sections.items():
        for key, value in values.items():
            setattr(getattr(changed, section), key, value)
    return changed


def test_a_run_yields_start_steps_evals_samples_and_done(tiny_settings):
    events = train(tiny_settings)
    assert isinstance(events[0], StartEvent) and isinstance(events[-1], DoneEvent)
    assert events[0].params["total"] == sum(v for k, v in events[0].params.items() if k != "total")
    assert list(losses(events)) == list(range(1, 31))
    assert list(evals(events)) == [10, 20, 30]
    samples = [e for e in events if isinstance(e, SampleEvent)]
    assert [s.step for s in samples] == [10, 20, 30]
    assert all(s.text.startswith("All:\n") and len(s.text) == len("All:\n") + 20 for s in samples)
    assert events[-1].reason == "completed" and events[-1].val_loss == evals(events)[30][1]
    assert all(e.tokens_per_s > 0 and e.lr > 0 for e in events if isinstance(e, StepEvent))


def test_loss_falls_when_overfitting_a_small_text(tiny_settings):
    settings = with_changes(tiny_settings, train={"steps": 60, "lr": 3e-3, "eval_interval": 60})
    events = train(settings)
    first, last = evals(train(with_changes(settings, train={"steps": 1})))[1], evals(events)[60]
    assert last[0] < first[0] - 1.0  # train loss: from about ln(vocab) to well below
    assert last[1] < first[1] - 1.0


def test_the_same_seed_gives_the_same_losses_step_for_step(tiny_settings):
    settings = with_changes(tiny_settings, model={"dropout": 0.1})
    a, b = train(settings), train(settings)
    assert losses(a) == losses(b) and evals(a) == evals(b)
    other = train(with_changes(settings, train={"seed": 7}))
    assert losses(other) != losses(a)


def test_warmup_then_cosine_decay_to_min_lr():
    t = TrainSettings(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert lr_at(0, t) == pytest.approx(1e-3 / 11)
    assert lr_at(9, t) == pytest.approx(1e-3 * 10 / 11)
    assert lr_at(10, t) == pytest.approx(1e-3)
    assert lr_at(55, t) == pytest.approx(0.55e-3)  # halfway down the cosine
    assert lr_at(100, t) == pytest.approx(1e-4)
    rates = [lr_at(s, t) for s in range(10, 100)]
    assert rates == sorted(rates, reverse=True)


def test_weight_decay_falls_on_matrices_only(tiny_settings):
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings))
    optimizer = make_optimizer(trainer.model, tiny_settings.train, trainer.device)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    total = sum(p.numel() for group in (decay, no_decay) for p in group["params"])
    assert total == sum(p.numel() for p in trainer.model.parameters())


def test_gradient_accumulation_counts_every_micro_batch(tiny_settings):
    settings = with_changes(tiny_settings, train={"steps": 2, "grad_accum": 3})
    trainer = Trainer(settings, corpus_of(settings))
    assert trainer.tokens_per_step == 4 * 16 * 3
    before = trainer.batch_generator.get_state()
    list(trainer.run())
    draws = torch.Generator()
    draws.set_state(before)
    for _ in range(6):  # 2 steps x 3 micro-batches drew from the batch generator
        torch.randint(10, (4,), generator=draws)
    assert torch.equal(draws.get_state(), trainer.batch_generator.get_state())


def test_a_checkpoint_round_trips_the_model(tmp_path, tiny_settings):
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings), checkpoint_path=tmp_path / "c.pt")
    events = list(trainer.run())
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [10, 20, 30]

    state = load_checkpoint(tmp_path / "c.pt")
    assert state["step"] == 30 and state["vocab"] == trainer.tokenizer.vocab
    assert state["settings"] == tiny_settings.to_dict()
    assert state["best_val_loss"] == min(v for _, v in evals(events).values())
    loaded = load_model(tmp_path / "c.pt")
    idx = torch.tensor([trainer.tokenizer.encode("All:\nSpeak")])
    trainer.model.eval()
    assert torch.equal(loaded.model(idx)[0], trainer.model(idx)[0])
    assert loaded.tokenizer.vocab == trainer.tokenizer.vocab and loaded.step == 30


def stop_at(control: Control, step: int, events):
    """Pass events through, asking for a stop once step `step` is done."""
    for event in events:
        if isinstance(event, StepEvent) and event.step == step:
            control.request("stop")
        yield event


@pytest.mark.parametrize("stop_step", [12, 20])
def test_a_resumed_run_repeats_the_uninterrupted_one_exactly(tmp_path, tiny_settings, stop_step):
    """Stopped at a step between checkpoints (12) or on one (20), then resumed on the CPU."""
    settings = with_changes(tiny_settings, model={"dropout": 0.1})
    whole = train(settings)

    control = Control()
    first = Trainer(
        settings, corpus_of(settings), checkpoint_path=tmp_path / "c.pt", control=control
    )
    head = list(stop_at(control, stop_step, first.run()))
    assert isinstance(head[-1], DoneEvent) and head[-1].reason == "stopped"
    assert head[-1].step == stop_step and load_checkpoint(tmp_path / "c.pt")["step"] == stop_step

    second = Trainer(
        settings,
        corpus_of(settings),
        checkpoint_path=tmp_path / "c.pt",
        resume_state=load_checkpoint(tmp_path / "c.pt"),
    )
    tail = list(second.run())
    assert isinstance(tail[0], StartEvent) and tail[0].resumed and tail[0].step == stop_step
    assert list(losses(tail)) == list(range(stop_step + 1, 31))
    assert {**losses(head), **losses(tail)} == losses(whole)
    assert {**evals(head), **evals(tail)} == evals(whole)


def test_pause_holds_the_run_and_resume_continues_it(tiny_settings):
    control = Control()
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings), control=control)
    control.request("pause")
    timer = threading.Timer(0.2, control.request, ("resume",))
    timer.start()
    events = list(trainer.run())
    timer.join()
    kinds = [type(e) for e in events[:4]]
    assert kinds == [StartEvent, PausedEvent, ResumedEvent, StepEvent]
    assert events[2].time - events[1].time >= 0.15
    assert losses(events) == losses(train(tiny_settings))


def test_an_evaluation_on_request_leaves_the_run_unchanged(tiny_settings):
    control = Control()
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings), control=control)

    def ask_for_eval(events):
        for event in events:
            if isinstance(event, StepEvent) and event.step == 5:
                control.request("eval")
            yield event

    events = list(ask_for_eval(trainer.run()))
    assert list(evals(events)) == [5, 10, 20, 30]
    assert losses(events) == losses(train(tiny_settings))


def poison_after(step: int, trainer: Trainer, events, poison):
    for event in events:
        yield event
        if isinstance(event, CheckpointEvent) and event.step == step:
            poison(trainer)


def test_a_non_finite_loss_fails_the_run_naming_the_step_and_keeps_the_checkpoint(
    tmp_path, tiny_settings
):
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings), checkpoint_path=tmp_path / "c.pt")

    def nan_weights(t: Trainer) -> None:
        with torch.no_grad():
            t.model.lm_head.bias.fill_(math.nan)

    events = list(poison_after(10, trainer, trainer.run(), nan_weights))
    failed = events[-1]
    assert isinstance(failed, FailedEvent) and failed.step == 11
    assert "loss became nan at step 11" in failed.message and "step 10" in failed.message
    assert max(losses(events)) == 10

    state = load_checkpoint(tmp_path / "c.pt")
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_a_non_finite_gradient_fails_the_run_before_the_weights_change(tmp_path, tiny_settings):
    trainer = Trainer(tiny_settings, corpus_of(tiny_settings), checkpoint_path=tmp_path / "c.pt")

    def infinite_grads(t: Trainer) -> None:
        t.model.lm_head.bias.register_hook(lambda grad: grad * math.inf)

    events = list(poison_after(10, trainer, trainer.run(), infinite_grads))
    assert isinstance(events[-1], FailedEvent) and events[-1].step == 11
    assert "gradient norm became" in events[-1].message
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_a_checkpoint_that_cannot_be_written_warns_and_training_goes_on(tmp_path, tiny_settings):
    path = tmp_path / "missing-folder" / "c.pt"
    events = train(tiny_settings, checkpoint_path=path)
    warnings = [e for e in events if isinstance(e, WarningEvent)]
    assert [w.step for w in warnings] == [10, 20, 30]
    assert "checkpoint not saved" in warnings[0].message and str(path) in warnings[0].message
    assert isinstance(events[-1], DoneEvent) and events[-1].step == 30
