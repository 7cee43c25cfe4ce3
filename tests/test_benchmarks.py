"""The benchmark suite runs end to end (quick mode, tiny configs) and writes its JSON and
table; the figures themselves are measured on real configs, not here."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _tiny_configs(tiny_corpus, tiny_speech, tmp_path) -> list[str]:
    """The benchmark options that select the tiny configs and corpora."""
    mt = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    asr = [f"data.{s}={tiny_speech / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    return [
        *("--translate-config", "configs/translate/tiny.yaml", "--translate-set", *mt),
        *("--asr-config", "configs/asr/tiny.yaml", "--asr-set", *asr),
        f"data.cache_dir={tmp_path / 'cache'}",
    ]


def test_benchmark_suite_quick_run(tiny_corpus, tiny_speech, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--repeats", "2"]
        + ["--out", str(tmp_path)]
        + ["--trace-dir", str(tmp_path / "traces")]
        + _tiny_configs(tiny_corpus, tiny_speech, tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (json_path,) = tmp_path.glob("cpu*-quick.json")
    results = json.loads(json_path.read_text())
    mt, speech = results["translation"], results["speech"]
    for key in [
        "train_target_tokens_per_second",
        "train_batches_per_second",
        "input_pipeline_batches_per_second",
        "input_pipeline_headroom",
        "train_speedup_over_tutorial",
        "greedy_decode_speedup_over_tutorial",
    ]:
        assert mt[key] > 0, key
    assert 0 <= mt["padding_fraction"] < 1 and 0 <= speech["padding_fraction"] < 1
    assert mt["tutorial_reference"]["decode_greedy_sentences_per_second"] > 0
    assert speech["train_input_frames_per_second"] > 0
    assert speech["transcribe_real_time_factor"]["greedy"] > 0
    assert results["peak_memory_mb"] > 100
    table = json_path.with_suffix(".md").read_text()
    assert "| translation: training target tokens/s |" in table and "quick smoke run" in table
    # Two repeats: medians, and the range of figures that differed (timings always do).
    assert results["repeats"] == 2 and "medians of 2 repeats" in table
    low, high = results["ranges"]["translation.train_target_tokens_per_second"]
    assert low <= mt["train_target_tokens_per_second"] <= high
    assert "| translation.train_target_tokens_per_second |" in table
    # The profiles: on a CPU, no recurrent layer runs a cuDNN kernel.
    assert "| speech: recurrent layers on cuDNN kernels in training | 0 of 2 |" in table
    assert results["profile"]["translation"]["train_step"]["recurrent_layers_on_cudnn"]


def test_profile_quick_run_summarizes_each_trace(tiny_corpus, tiny_speech, tmp_path):
    out = tmp_path / "profile.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.op_profile", "--quick", "--out", str(out)]
        + ["--trace-dir", str(tmp_path / "traces")]
        + _tiny_configs(tiny_corpus, tiny_speech, tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    for task, decoders in [("translation", ["greedy", "beam_5"]), ("speech", ["greedy", "beam_4"])]:
        train = results[task]["train_step"]
        assert train["steps"] == 2 and train["wall_ms_per_step"] > 0
        # Keras runs the step as one compiled function: little Python-side time.
        assert 0.5 < train["in_graph_fraction"] <= 1.05
        assert train["top_ops"] and abs(sum(o["share"] for o in train["top_ops"]) - 1) < 0.5
        # Every op's self time is counted once, to a layer, the optimizer, the loss or "other".
        layers = {g["scope"]: g["share"] for g in train["top_layers"]}
        assert abs(sum(layers.values()) - 1) < 0.01
        assert set(layers) - {"other"}
        # On a CPU no recurrent layer runs a cuDNN kernel, and each one is listed.
        assert train["cudnn_rnn_ops"] == {}
        assert train["recurrent_layers_on_cudnn"] and not any(
            train["recurrent_layers_on_cudnn"].values()
        )
        for name in decoders:
            assert results[task][f"decode_{name}"]["wall_ms"] > 0
    # The CTC loss runs as TensorFlow's fused kernel (not the CTC written in TF ops).
    ops = {o["op"] for o in results["speech"]["train_step"]["top_ops"]}
    assert "TensorScatterUpdate" not in ops
    assert f"profile: {out}" in result.stdout


def test_self_times_subtract_nested_events():
    from types import SimpleNamespace

    from benchmarks.op_profile import _in_scope, _self_times

    def event(metadata_id, offset, duration):
        return SimpleNamespace(metadata_id=metadata_id, offset_ps=offset, duration_ps=duration)

    names = {1: "outer:While", 2: "inner:MatMul", 3: "inner2:Add", 4: "next:Tanh"}
    events = [event(1, 0, 100), event(2, 10, 30), event(3, 50, 20), event(4, 120, 5)]
    assert sorted(_self_times(events, names)) == sorted(
        [("outer:While", 50), ("inner:MatMul", 30), ("inner2:Add", 20), ("next:Tanh", 5)]
    )
    assert _in_scope("model_1/encoder_bilstm_1_1/forward_lstm/CudnnRNNV3", "forward_lstm")
    assert _in_scope("model_1/encoder_bilstm_1_1/x", "encoder_bilstm")
    assert not _in_scope("model_1/encoder_bilstm_2/x", "encoder_bilstm_1")


def test_the_tutorial_reference_sizes_its_softmax_by_the_vocabulary_it_built():
    """On a corpus with fewer words than its cap, the reference model's softmax must cover
    only the words it has: an output row past the vocabulary's end once made greedy decoding
    index past it (a CI failure that depended on the random initialization)."""
    from benchmarks import reference

    pairs = [(f"hola mundo {i}", f"hello world {i}") for i in range(20)]
    result = reference.measure(
        pairs,
        ["hola mundo 3"] * 4,
        vocab_sizes=(1000, 12),
        embedding_dim=8,
        units=8,
        train_batches=2,
        warmup=1,
    )
    # Source: 20 numbers + 2 words + [START], [END], padding and [UNK]; the target is capped.
    assert result["vocabulary_sizes"] == [26, 12]
    embeddings = (26 + 12) * 8
    output_layer = (8 + 8) * 12 + 12
    assert result["parameters"] > embeddings + output_layer
    assert result["parameters"] < 1000 * 8  # one embedding of 1000 rows would exceed it
    assert result["decode_greedy_sentences_per_second"] > 0


def test_repeats_merge_into_medians_and_ranges():
    from benchmarks.run import median_of, ranges_of

    samples = [
        {"tokens": 100.0, "decode": {"greedy": 5.0}, "config": "a.yaml", "parameters": 7},
        {"tokens": 300.0, "decode": {"greedy": 4.0}, "config": "a.yaml", "parameters": 7},
        {"tokens": 120.0, "decode": {"greedy": 4.0}, "config": "a.yaml", "parameters": 7},
    ]
    assert median_of(samples) == {
        "tokens": 120.0,
        "decode": {"greedy": 4.0},
        "config": "a.yaml",
        "parameters": 7,
    }
    assert median_of(samples[:2])["tokens"] == 200.0
    assert ranges_of(samples) == {"tokens": [100.0, 300.0], "decode.greedy": [4.0, 5.0]}


def test_variants_measures_each_training_variant_on_the_same_batches(tiny_corpus, tmp_path):
    out = tmp_path / "variants.json"
    mt = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.variants", "translate"]
        + ["--config", "configs/translate/tiny.yaml", "--set", *mt]
        + ["--variants", "keras,fast,fast-bf16", "--batches", "4", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["batches"] == 4
    assert list(results["variants"]) == ["keras", "fast", "fast-bf16"]
    for figures in results["variants"].values():
        assert figures["target_tokens_per_second"] > 0
    assert results["variants"]["keras"]["median_batch_time_relative_to_keras"] == 1.0


def test_the_benchmarks_compile_and_feed_the_model_as_training_does(
    tiny_corpus, tiny_speech, tmp_path
):
    """The speed benchmarks measure the step that `train` runs: the same optimizer (Adam, its
    warmup and cosine schedule over the run's steps, clipping) and loss as the model a
    one-epoch training run saved, with batches built by the functions training uses."""
    import keras

    from benchmarks import asr_speed, translate_speed
    from pipelines.tasks import asr, translation
    from seq2seq.config import load_config
    from seq2seq.training.run_dir import RunDir

    def same_compile(benchmarked, run):
        trained = keras.saving.load_model(RunDir(run).model)  # restores training's compile
        ours, theirs = benchmarked.optimizer.get_config(), trained.optimizer.get_config()
        assert ours.pop("name").startswith("adam") and theirs.pop("name").startswith("adam")
        assert ours == theirs  # learning rate schedule (its steps), clipping, moments
        assert keras.saving.serialize_keras_object(benchmarked.loss) == (
            keras.saving.serialize_keras_object(trained.loss)
        )

    mt = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    config = load_config(
        translation.TranslationConfig,
        "configs/translate/tiny.yaml",
        [*mt, "train.epochs=1", "train.label_smoothing=0.1", "train.learning_rate=0.003"],
    )
    translation.train(config, tmp_path / "mt")
    model, *_ = translate_speed.training_setup(config)
    same_compile(model, tmp_path / "mt")
    assert model.optimizer.get_config()["global_clipnorm"] == config.train.clipnorm
    assert model.loss.label_smoothing == 0.1

    # The speech benchmark feeds the dev split as its training data (its features are cheaper
    # to build): with the training split as the dev split, it has training's batches, so the
    # schedule's steps must match too.
    train = tiny_speech / "train.jsonl"
    config = load_config(
        asr.ASRConfig,
        "configs/asr/tiny.yaml",
        [
            f"data.train={train}",
            f"data.dev={train}",
            f"data.test={tiny_speech / 'test.jsonl'}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "train.epochs=1",
        ],
    )
    asr.train(config, tmp_path / "asr")
    model, _ = asr_speed.training_setup(config)
    same_compile(model, tmp_path / "asr")


def test_torch_gpu_shapes_are_the_batches_of_one_training_epoch(tiny_speech, tmp_path):
    """The GPU timing's shapes (made here, timed where only PyTorch is) hold the batches
    training makes: the same batch sizes (the partial batch of each bucket included), the
    same utterance frames and label lengths; only the shuffled order differs."""
    import numpy as np

    from benchmarks.torch_gpu import epoch_shapes
    from data_prep.speech.feature_cache import FeatureCache
    from pipelines.tasks.asr.config import ASRConfig
    from pipelines.tasks.asr.task import build_caches, make_datasets
    from seq2seq.config import load_config

    overrides = [f"data.{s}={tiny_speech / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    overrides += [
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.batch_frames=1200",
        "data.max_frames=1000",
    ]
    config = load_config(ASRConfig, "configs/asr/tiny.yaml", overrides)
    shapes = epoch_shapes(config)
    cache = FeatureCache(build_caches(config, ("train",))["train"])
    training = [
        (x["feature_lengths"].numpy(), (y.numpy() != 0).sum(1))
        for x, y in make_datasets(config, {"train": cache})["train"]
    ]
    frames = np.split(shapes["frames"], shapes["offsets"][1:-1])
    labels = np.split(shapes["labels"], shapes["offsets"][1:-1])
    assert len(training) > 3 and len({len(b) for b in frames}) > 1  # several buckets
    assert sorted(map(len, frames)) == sorted(len(n) for n, _ in training)
    assert sorted(shapes["frames"]) == sorted(np.concatenate([n for n, _ in training]))
    assert sorted(shapes["labels"]) == sorted(np.concatenate([y for _, y in training]))
    # An utterance's frames and label length stay together.
    ours = sorted(zip(np.concatenate(frames), np.concatenate(labels), strict=True))
    theirs = sorted(zip(*map(np.concatenate, zip(*training, strict=True)), strict=True))
    assert ours == theirs
    model = json.loads(str(shapes["model"]))
    assert (model["feature_size"], model["units"], model["subsampling"]) == (40, 32, 2)
