"""End to end through the command line: train -> evaluate -> translate on a tiny corpus."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import assert_png, run_command
from tests.pipelines.helpers import run_without_toolkit

pytestmark = pytest.mark.slow


def _cli(*args, stdin=None):
    return run_command([sys.executable, "-m", "pipelines.translate", *args], stdin=stdin)


@pytest.fixture(scope="module")
def run_dir(translation_run):
    return translation_run


def test_train_writes_the_run_directory(run_dir):
    for name in [
        "config.yaml",
        "model.keras",
        "tokenizers/source.model",
        "tokenizers/target.model",
        "history.csv",
    ]:
        assert (run_dir / name).exists(), name
    assert_png(run_dir / "training_curves.png")
    assert any((run_dir / "logs").rglob("*tfevents*"))
    assert "data.train" not in (run_dir / "config.yaml").read_text()  # nested, resolved YAML
    assert "tiny_corpus" in (run_dir / "config.yaml").read_text()


def test_rerunning_a_finished_run_keeps_its_model(run_dir, tiny_corpus):
    model_bytes = (run_dir / "model.keras").read_bytes()
    result = _cli(
        "train",
        "--config",
        "configs/translate/tiny.yaml",
        "--run-dir",
        str(run_dir),
        "--set",
        f"data.train={tiny_corpus / 'train.tsv'}",
        f"data.dev={tiny_corpus / 'dev.tsv'}",
    )
    assert "is already trained" in result.stdout
    assert (run_dir / "model.keras").read_bytes() == model_bytes


def test_the_best_model_is_the_epoch_of_the_best_dev_bleu(run_dir):
    """train.select_by bleu (the default): every epoch's dev BLEU and chrF are in history.csv,
    and model.keras scores the highest of them when evaluate decodes the dev split."""
    from seq2seq.training.run_dir import RunDir

    history = RunDir(run_dir).history()
    assert all({"val_bleu", "val_chrf", "val_loss", "dev_score_seconds"} <= set(r) for r in history)
    bleu = [r["val_bleu"] for r in history]
    assert max(bleu) > bleu[0]  # it learned: the selection had something to choose from
    _cli("evaluate", "--run-dir", str(run_dir), "--split", "dev", "--beam-size", "1")
    (row,) = json.loads((run_dir / "eval" / "dev" / "report.json").read_text())["results"]
    assert row["bleu"] == pytest.approx(max(bleu), abs=0.006)


def test_evaluate_reports_greedy_and_beam(run_dir, tiny_corpus):
    result = _cli("evaluate", "--run-dir", str(run_dir), "--split", "test", "--beam-size", "3")
    report_path = run_dir / "eval" / "test" / "report.json"
    assert str(report_path.with_suffix(".md")) in result.stdout
    rows = json.loads(report_path.read_text())["results"]
    assert [r["decoding"] for r in rows] == [
        {"strategy": "greedy", "beam_size": 1, "checkpoint": "best"},
        {"strategy": "beam", "beam_size": 3, "checkpoint": "best"},
    ]
    for row in rows:
        assert set(row) >= {
            "bleu",
            "chrf",
            "ter",
            "signature",
            "num_sentences",
            "decoding",
            "seconds",
            "sentences_per_second",
        }
        assert row["num_sentences"] == 40
        assert row["signature"]["bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
        # The grammar is learnable: a model that did not learn scores far lower.
        assert row["bleu"] > 60, row
    markdown = report_path.with_suffix(".md").read_text()
    assert "| greedy |" in markdown and "| beam (beam 3) |" in markdown
    by_length = json.loads(report_path.read_text())["by_source_length"]
    assert sum(row["num_sentences"] for row in by_length.values()) == 40
    assert all(set(row["bleu"]) == {"greedy", "beam 3"} for row in by_length.values())
    for png in ["bleu_by_length.png", "attention_1.png", "attention_2.png", "attention_3.png"]:
        assert f"]({png})" in markdown
        assert_png(report_path.parent / png)


def test_attention_weights_follow_the_reordering(run_dir):
    from pipelines.tasks.translation.task import Translator

    translator = Translator(run_dir)
    source = "El rey ve la casa verde."
    translation = translator.translate([source])[0]
    assert translation == "The king sees the green house."
    attention = translator.attention(source, translation)
    weights = attention["weights"]
    assert weights.shape == (len(attention["target_tokens"]), len(attention["source_tokens"]))
    assert attention["source_tokens"][-1] == attention["target_tokens"][-1] == "</s>"
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)


def test_translate_keeps_input_order(run_dir):
    lines = ["El rey ve la casa verde.", "La niña tiene el pan.", "El perro busca el libro azul."]
    result = _cli(
        "translate", "--run-dir", str(run_dir), "--beam-size", "3", stdin="\n".join(lines) + "\n"
    )
    outputs = result.stdout.splitlines()
    assert len(outputs) == 3
    # Word-level checks that need the right order and the learned adjective reordering.
    assert outputs[0] == "The king sees the green house."
    assert outputs[2].startswith("The dog")


def test_an_ensemble_of_a_run_with_itself_scores_as_the_run(run_dir, tmp_path):
    import shutil

    from pipelines.tasks.translation.task import Translator

    for runs in (["--run-dir", str(run_dir)], ["--run-dir", str(run_dir)] * 2):
        _cli("evaluate", *runs, "--split", "test", "--beam-size", "3", "--limit", "20")
    alone = json.loads((run_dir / "eval" / "test" / "report.json").read_text())["results"]
    report = json.loads((run_dir / "eval" / "test-ensemble2" / "report.json").read_text())
    assert [r["bleu"] for r in report["results"]] == [r["bleu"] for r in alone]
    assert report["results"][0]["decoding"]["ensemble"] == [str(run_dir)] * 2
    # Scoring (forced decoding) by the ensemble: the run's own log-probabilities.
    from pipelines.tasks.translation.scoring import score_pairs

    pairs = [("El rey ve la casa verde.", "The king sees the green house.")]
    (alone_score,) = score_pairs(Translator(run_dir), pairs)
    (ensemble_score,) = score_pairs(Translator([run_dir, run_dir]), pairs)
    np.testing.assert_allclose(ensemble_score, alone_score, rtol=1e-5)
    # Runs whose tokenizers differ cannot be ensembled: their token ids mean different words.
    other = tmp_path / "other"
    shutil.copytree(run_dir, other, ignore=shutil.ignore_patterns("eval", "logs"))
    shutil.copy(other / "tokenizers" / "source.model", other / "tokenizers" / "target.model")
    with pytest.raises(ValueError, match="must share their tokenizers: .*target.model"):
        Translator([run_dir, other])


def test_n_best_lists_the_beams_best_first(run_dir):
    from pipelines.tasks.translation.task import Translator

    lines = ["El rey ve la casa verde.", "La niña tiene el pan.", "El perro busca el libro azul."]
    stdin = "\n".join(lines) + "\n"
    rows = [
        line.split("\t")
        for line in _cli(
            "translate", "--run-dir", str(run_dir), "--beam-size", "4", "--n-best", "3", stdin=stdin
        ).stdout.splitlines()
    ]
    assert [(int(r[0]), int(r[1])) for r in rows] == [(i, k) for i in range(3) for k in (1, 2, 3)]
    best = _cli("translate", "--run-dir", str(run_dir), "--beam-size", "4", stdin=stdin)
    assert [r[3] for r in rows if r[1] == "1"] == best.stdout.splitlines()
    for i in range(3):
        scores = [float(r[2]) for r in rows if r[0] == str(i)]
        assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)
        assert len({r[3] for r in rows if r[0] == str(i)}) == 3  # distinct hypotheses
    # The API gives the same best hypothesis and score as the command.
    translator = Translator(run_dir)
    (top,) = translator.n_best(lines[:1], beam_size=4, n=1)
    assert top[0] == (rows[0][3], pytest.approx(float(rows[0][2]), abs=1e-3))
    with pytest.raises(ValueError, match="between 1 and the beam size 4"):
        translator.n_best(lines, beam_size=4, n=5)


def test_score_gives_forced_log_probabilities(run_dir, tiny_corpus):
    from data_prep.text.parallel import read_tsv
    from pipelines.tasks.translation.scoring import score_pairs
    from pipelines.tasks.translation.task import Translator

    translator = Translator(run_dir)
    pairs = read_tsv(tiny_corpus / "test.tsv")[0][:6]
    wrong = [(s, pairs[(i + 3) % 6][1]) for i, (s, _) in enumerate(pairs)]
    lines = "".join(f"{s}\t{t}\n" for s, t in pairs + wrong)
    rows = [
        line.split("\t")
        for line in _cli("score", "--run-dir", str(run_dir), stdin=lines).stdout.splitlines()
    ]
    assert len(rows) == 12
    right, swapped = [float(r[1]) for r in rows[:6]], [float(r[1]) for r in rows[6:]]
    # Per-token averages: the model prefers the right translations to swapped ones.
    assert sum(right) > sum(swapped) + 6 * 0.5, (right, swapped)
    assert sum(r > w for r, w in zip(right, swapped, strict=True)) >= 5, (right, swapped)
    assert all(float(r[0]) < 0 and int(r[2]) >= 2 for r in rows)
    # A beam hypothesis scored by forced decoding: its beam score times its length penalty.
    (hypotheses,) = translator.n_best([pairs[0][0]], beam_size=3, n=1)
    text, beam_score = hypotheses[0]
    ((total, _, tokens),) = score_pairs(translator, [(pairs[0][0], text)])
    penalty = ((5.0 + tokens) / 6.0) ** translator.config.decode.length_penalty
    assert total == pytest.approx(beam_score * penalty, rel=1e-3)
    bad = subprocess.run(
        [sys.executable, "-m", "pipelines.translate", "score", "--run-dir", str(run_dir)],
        input="a\tb\nno tab here\n",
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "stdin:2: expected source<TAB>target" in bad.stderr


def test_decoding_traces_each_search_once(run_dir, tiny_corpus):
    """Batches of every length and size reuse one graph per search: no retracing per batch."""
    from data_prep.text.parallel import read_tsv
    from pipelines.tasks.translation.task import Translator

    translator = Translator(run_dir)
    sources = [s for s, _ in read_tsv(tiny_corpus / "test.tsv")[0]]
    for size in (1, 3, 7, 40):
        translator.translate(sources[:size])
        translator.translate(sources[:size], beam_size=size % 4 + 2)
    decoder = translator.decoder
    assert decoder.greedy.experimental_get_tracing_count() == 1
    assert decoder.beam_search.experimental_get_tracing_count() == 1


def test_translate_reads_files_in_order(run_dir, tmp_path):
    (tmp_path / "a.txt").write_text("El rey ve la casa verde.\nLa niña tiene el pan.\n", "utf-8")
    (tmp_path / "b.txt").write_text("El rey ve la casa verde.\n", encoding="utf-8")
    result = _cli(
        "translate", "--run-dir", str(run_dir), str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    )
    outputs = result.stdout.splitlines()
    assert len(outputs) == 3
    assert outputs[0] == outputs[2] == "The king sees the green house."


def test_help_explains_options():
    result = _cli("train", "--help")
    assert "--set KEY=VALUE" in result.stdout and "model.attention" in result.stdout
    result = _cli("evaluate", "--help")
    assert "--beam-size" in result.stdout and "report.json" in result.stdout


def test_bad_config_key_is_a_clear_error(tmp_path, tiny_corpus):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.translate",
            "train",
            "--config",
            "configs/translate/tiny.yaml",
            "--run-dir",
            str(tmp_path),
            "--set",
            "model.unitz=3",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "unknown config key(s) ['model.unitz']" in result.stderr


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "translator"
    assert "exported to" in _cli("export", "--run-dir", str(run_dir), "--out", str(out)).stdout
    return out


def test_export_serves_raw_text_without_the_toolkit(exported, run_dir, tiny_corpus, tmp_path):
    sources = [line.split("\t")[0] for line in (tiny_corpus / "test.tsv").read_text().splitlines()]
    sources += ["  El rey ve  la casa verde . "]  # normalized inside the graph too
    (tmp_path / "in.json").write_text(json.dumps(sources))
    expected = {
        beam: _cli(
            "translate",
            "--run-dir",
            str(run_dir),
            "--beam-size",
            str(beam),
            stdin="\n".join(sources) + "\n",
        ).stdout.splitlines()
        for beam in (1, 3)
    }
    output = run_without_toolkit(
        f"""
        import json
        import tensorflow as tf, tensorflow_text  # noqa: F401 (SentencePiece ops)
        model = tf.saved_model.load({str(exported)!r})
        sources = tf.constant(json.load(open("in.json")))
        greedy = model.signatures["serving_default"](sentences=sources)["translations"]
        beam = model.translate_beam(sources, tf.constant(3))["translations"]
        specs = {{k: [str(v.dtype.name), v.shape.as_list()] for k, v in
                 model.signatures["translate_beam"].structured_input_signature[1].items()}}
        print(json.dumps({{"greedy": [t.decode() for t in greedy.numpy()],
                          "beam": [t.decode() for t in beam.numpy()], "specs": specs,
                          "signatures": sorted(model.signatures)}}))
        """,
        cwd=tmp_path,
    )
    result = json.loads(output)
    assert result["greedy"] == expected[1] and result["beam"] == expected[3]
    assert result["greedy"][-1] == "The king sees the green house."
    assert result["specs"] == {"sentences": ["string", [None]], "beam_size": ["int32", []]}
    assert result["signatures"] == ["serving_default", "translate", "translate_beam"]


def test_export_handles_malformed_requests(exported):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    model = tf.saved_model.load(str(exported))
    serve = model.signatures["translate"]
    assert serve(sentences=tf.constant([], tf.string))["translations"].shape == (0,)
    assert serve(sentences=tf.constant([""]))["translations"].shape == (1,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor"):
        serve(sentences=tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="beam_size must be at least 1"):
        model.translate_beam(tf.constant(["hola"]), tf.constant(0))


def test_translate_command_runs_from_an_export(exported, run_dir):
    lines = "El rey ve la casa verde.\nLa niña tiene el pan.\n"
    from_run = _cli("translate", "--run-dir", str(run_dir), stdin=lines).stdout
    assert _cli("translate", "--run-dir", str(exported), stdin=lines).stdout == from_run


def test_fine_tuning_starts_from_a_run_and_learns_a_new_corpus_faster(
    run_dir, tiny_corpus, tmp_path
):
    import csv
    import shutil

    from tests.conftest import tiny_pairs, write_tsv

    # A new corpus: sentences the base run never trained on (its dev and test pairs).
    new = tmp_path / "new"
    new.mkdir()
    seen = {line.split("\t")[0] for line in open(tiny_corpus / "train.tsv", encoding="utf-8")}
    pairs = [p for p in tiny_pairs() if p[0] not in seen][-60:]
    write_tsv(new / "train.tsv", pairs[:40])
    write_tsv(new / "dev.tsv", pairs[40:])
    shutil.copy(new / "dev.tsv", new / "test.tsv")
    settings = [f"data.{s}={new / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    settings += ["train.epochs=2"]

    def dev_losses(run):
        with open(run / "history.csv", encoding="utf-8") as f:
            return [float(row["val_loss"]) for row in csv.DictReader(f)]

    base = ["train", "--config", "configs/translate/tiny.yaml"]
    _cli(
        *base, "--run-dir", str(tmp_path / "tuned"), "--init-from", str(run_dir), "--set", *settings
    )
    _cli(*base, "--run-dir", str(tmp_path / "scratch"), "--set", *settings)
    tuned, scratch = dev_losses(tmp_path / "tuned"), dev_losses(tmp_path / "scratch")
    assert tuned[0] < 0.5 * scratch[0] and tuned[-1] < scratch[-1], (tuned, scratch)
    for name in ("source.model", "target.model"):  # the base run's tokenizers, kept
        kept = (tmp_path / "tuned" / "tokenizers" / name).read_bytes()
        assert kept == (run_dir / "tokenizers" / name).read_bytes()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.translate",
            *base,
            "--run-dir",
            str(tmp_path / "x"),
            "--init-from",
            str(run_dir),
            "--set",
            *settings,
            "model.units=48",
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "model.units: 48 here, 32 there" in refused.stderr
    assert not (tmp_path / "x").exists()
