import numpy as np

from pipelines.reports import figures
from seq2seq.training.run_dir import RunDir
from tests.helpers import assert_png


def test_training_curves_one_panel_per_quantity(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,loss,masked_accuracy,val_loss,val_masked_accuracy\n"
        "0,3.0,0.2,2.5,0.3\n1,2.0,0.4,2.1,0.45\n2,1.5,0.5,1.9,0.5\n"
    )
    path = figures.training_curves(RunDir(tmp_path).history(), tmp_path / "curves.png")
    assert_png(path)
    one_panel = figures.training_curves(
        _history(tmp_path, "epoch,loss\n0,3\n1,2\n"), tmp_path / "one.png"
    )
    from matplotlib.image import imread

    # Two quantities (loss, accuracy) draw two panels side by side: a wider image.
    assert imread(path).shape[1] > 1.5 * imread(one_panel).shape[1]


def _history(folder, text):
    (folder / "history.csv").write_text(text)
    return RunDir(folder).history()


def test_training_curves_of_an_empty_history_is_none(tmp_path):
    assert figures.training_curves(_history(tmp_path, "epoch,loss\n"), tmp_path / "c.png") is None
    assert not (tmp_path / "c.png").exists()


def test_attention_bars_substitutions_and_posteriors(tmp_path):
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=3)
    assert_png(figures.attention_heatmap(list("abcd"), list("xyz"), weights, tmp_path / "a.png"))
    assert_png(
        figures.grouped_bars(
            ["en", "en+m3"],
            {"greedy": [40.0, 30.0], "beam 8": [35, 28]},
            tmp_path / "b.png",
            "WER by voice",
            "WER %",
            counts=[10, 12],
        )
    )
    assert_png(figures.substitutions_chart([("e", "a", 5), (" ", "s", 2)], tmp_path / "s.png", "t"))
    probabilities = np.random.default_rng(1).dirichlet(np.ones(29), size=60)
    assert_png(
        figures.ctc_posteriors(
            probabilities, ["_", " ", "'", *"abcdefghijklmnopqrstuvwxyz"], tmp_path / "p.png"
        )
    )
