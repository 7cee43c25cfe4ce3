"""Impossible config values, unknown keys, wrong types and missing files are refused at start,
with one line that names the key or file."""

import subprocess
import sys

import pytest

from pipelines.tasks.asr.task import ASRConfig
from pipelines.tasks.translation.task import TranslationConfig
from seq2seq.config import load_config


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("model.units=-3", "config key 'model.units' is -3: expected a positive number"),
        ("model.num_layers=0", "'model.num_layers' is 0: expected at least 1"),
        ("model.dropout=1.5", "'model.dropout' is 1.5: expected 0 <= dropout < 1"),
        ("model.cell=tcn", "'model.cell' is 'tcn': expected one of ('lstm', 'gru', 'rnn')"),
        ("model.attention=luong", "'model.attention' is 'luong'"),
        ("decode.beam_size=0", "'decode.beam_size' is 0: expected at least 1 (1 is greedy)"),
        ("train.epochs=0", "'train.epochs' is 0: expected at least 1"),
        ("train.learning_rate=-0.1", "'train.learning_rate' is -0.1"),
        ("train.label_smoothing=1", "'train.label_smoothing' is 1.0"),
        ("data.format=xml", "'data.format' is 'xml': expected tsv, anki or moses"),
        ("data.source_vocab_size=3", "'data.source_vocab_size' is 3: expected at least 8"),
        ("data.batch_tokens=10", "'data.batch_tokens' is 10: expected at least max_length"),
        ("model.unit=3", "unknown config key(s) ['model.unit']"),
        ("model.type=transformer model.heads=3", "'model.heads' is 3: expected a divisor"),
        (
            "model.type=transformer",
            "'model.embedding_dim' is 32 but does not apply: model.type is transformer",
        ),
        (
            "model.type=transformer model.embedding_dim=256 model.attention=input_feeding",
            "'model.attention' is 'input_feeding' but does not apply",
        ),
        ("model.positions=learned", "'model.positions' is 'learned' but does not apply: heads"),
        ("model.type=lstm", "'model.type' is 'lstm': expected one of ('recurrent', 'transformer')"),
        ("model.units=many", "config key 'model.units': cannot read 'many' as int"),
    ],
)
def test_translation_config_errors(setting, message):
    with pytest.raises(ValueError) as err:
        load_config(TranslationConfig, "configs/translate/tiny.yaml", setting.split(" "))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("model.subsampling=3", "'model.subsampling' is 3: expected one of (1, 2, 4, 8)"),
        ("model.units=0", "'model.units' is 0: expected a positive number"),
        ("data.batch_frames=100", "'data.batch_frames' is 100: expected at least max_frames"),
        ("augment.speed=[1.2,0.8]", "'augment.speed' is (1.2, 0.8)"),
        ("augment.time_width=2", "'augment.time_width' is 2.0"),
        ("decode.beam_size=0", "'decode.beam_size' is 0"),
        ("train.patience=0", "'train.patience' is 0: expected at least 1"),
        ("features.kind=spectrogram", "'features.kind' is 'spectrogram': expected one of"),
        ("augment.noise_prob=0.5", "'augment.noise_prob' is 0.5 but does not apply: the wave"),
        ("augment.spec_augment=false augment.time_masks=4", "'augment.time_masks' is 4 but"),
        ("decode.lm=none decode.alpha=0.3", "'decode.alpha' is 0.3 but does not apply: decode.lm"),
        ("decode.lm_beam_size=0", "'decode.lm_beam_size' is 0: expected null or >= 1"),
        ("decode.lm=none decode.lm_beam_size=32", "'decode.lm_beam_size' is 32 but does not apply"),
    ],
)
def test_speech_config_errors(setting, message):
    with pytest.raises(ValueError) as err:
        load_config(ASRConfig, "configs/asr/tiny.yaml", setting.split(" "))
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("pipeline", "config", "setting", "message"),
    [
        ("translate", "tiny", "model.units=-3", "'model.units' is -3"),
        ("translate", "tiny", "data.train=missing.tsv", "missing.tsv"),
        ("asr", "tiny", "decode.beam_size=0", "'decode.beam_size' is 0"),
        ("asr", "tiny", "data.train=missing.jsonl", "missing.jsonl"),
    ],
)
def test_the_command_line_refuses_at_start_with_one_line(
    pipeline, config, setting, message, tmp_path
):
    run = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            f"pipelines.{pipeline}",
            "train",
            "--config",
            f"configs/{pipeline if pipeline == 'asr' else 'translate'}/{config}.yaml",
            "--run-dir",
            str(run),
            "--set",
            setting,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (run / "model.keras").exists()


def test_the_lm_beam_defaults_to_the_beam():
    config = load_config(ASRConfig, "configs/asr/tiny.yaml", ["decode.beam_size=6"])
    assert config.decode.lm_beam == 6
    config = load_config(ASRConfig, "configs/asr/voices.yaml")
    assert (config.decode.beam_size, config.decode.lm_beam) == (8, 64)
