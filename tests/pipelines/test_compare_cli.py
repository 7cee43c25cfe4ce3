"""The architecture comparison end to end on tiny budgets."""

import json
import sys

import pytest

from pipelines.reports.architectures import variant_overrides
from tests.helpers import assert_png, run_command

pytestmark = pytest.mark.slow


def _compare(*args, expect=0):
    return run_command([sys.executable, "-m", "pipelines.compare", *args], expect)


def test_translation_variants_are_trained_evaluated_and_tabulated(tiny_corpus, tmp_path):
    data = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    out = tmp_path / "compare"
    result = _compare(
        "--task",
        "translate",
        "--config",
        "configs/translate/tiny.yaml",
        "--variants",
        "lstm,gru,rnn,transformer",
        "--budget-minutes",
        "2",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--set",
        *data,
        "model.heads=2",
    )
    assert f"table: {out / 'comparison.md'}" in result.stdout
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["variant"] for r in rows] == ["lstm", "gru", "rnn", "transformer"]
    for row in rows:
        assert row["epochs"] == 3 and row["parameters"] > 0 and row["train_units_per_second"] > 0
        assert 0 <= row["bleu"] <= 100 and row["dev_perplexity"] >= 1
        assert row["decode_sentences_per_second"]["greedy"] > 0
        assert row["by_length"]
    # LSTM has 4 gates, GRU 3, a simple RNN 1: fewer parameters in that order.
    lstm, gru, rnn = (r["parameters"] for r in rows[:3])
    assert lstm > gru > rnn
    table = (out / "comparison.md").read_text()
    assert table.count("\n| ") == 5  # header and four variants
    for png in ["dev_loss_vs_time.png", "by_length.png"]:
        assert f"]({png})" in table
        assert_png(out / png)
    assert (out / "transformer/model.keras").exists()


def test_speech_variants_and_bad_variants(tiny_speech, tmp_path):
    data = [f"data.{s}={tiny_speech / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    out = tmp_path / "compare"
    _compare(
        "--task",
        "asr",
        "--config",
        "configs/asr/tiny.yaml",
        "--variants",
        "gru,rnn",
        "--budget-minutes",
        "1",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--set",
        *data,
        f"data.cache_dir={tmp_path / 'cache'}",
    )
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["variant"] for r in rows] == ["gru", "rnn"]
    assert all(r["wer"] >= 0 and r["real_time_factor"]["greedy"] > 0 for r in rows)
    result = _compare(
        "--task",
        "asr",
        "--config",
        "configs/asr/tiny.yaml",
        "--variants",
        "transformer",
        "--budget-minutes",
        "1",
        "--out",
        str(tmp_path / "x"),
        expect=2,
    )
    assert "transformer variant exists for --task translate only" in result.stderr
    with pytest.raises(ValueError, match="unknown variant 'cnn'"):
        variant_overrides("translate", "cnn")


def test_an_interrupted_variant_reports_what_an_uninterrupted_one_does(tiny_corpus, tmp_path):
    """A variant stopped by Ctrl-C in its 5th of 6 epochs and resumed by rerunning the
    comparison counts each epoch once, on one clock across the resume: its throughput and its
    dev-loss-vs-time curve equal those of a variant trained in one go. The run's clock is made
    to read one minute more at every reading, so each epoch takes exactly a minute (before the
    run's clock, the resumed variant's curve restarted at 0 after epoch 4 and its 6 epochs
    were divided by the rerun's 2 minutes)."""
    import itertools

    import keras

    import seq2seq.training.fit as training
    from pipelines.reports.architectures import compare
    from seq2seq.training.callbacks import TrainingClock

    data = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 4:
                raise KeyboardInterrupt

    def run(out, interrupt=False):
        make = training.make_callbacks

        def callbacks(*args, **kwargs):
            return {**make(*args, **kwargs), **({"interrupt": Interrupt()} if interrupt else {})}

        minutes = itertools.count(0, 60.0)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(training, "make_callbacks", callbacks)
            patch.setattr(TrainingClock, "clock", staticmethod(lambda: next(minutes)))
            compare("translate", "configs/translate/tiny.yaml", ["lstm"], 60, out, data, epochs=6)
        return json.loads((out / "comparison.json").read_text())[0]

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", interrupt=True)
    resumed, alone = run(tmp_path / "resumed"), run(tmp_path / "alone")
    assert resumed["epochs"] == alone["epochs"] == 6
    assert [m for m, _ in resumed["curve"]] == [m for m, _ in alone["curve"]] == [1, 2, 3, 4, 5, 6]
    assert resumed["train_minutes"] == alone["train_minutes"] == 6
    assert resumed["train_units_per_second"] == alone["train_units_per_second"]
