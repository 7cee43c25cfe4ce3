import pytest

from pipelines.tasks.translation.task import TranslationConfig
from seq2seq.config import load_config, save_config


def test_defaults_and_typed_overrides():
    config = load_config(
        TranslationConfig,
        None,
        [
            "model.units=512",
            "model.dropout=0.5",
            "data.cache=false",
            "train.max_minutes=none",
            "data.train=my corpus.tsv",
        ],
    )
    assert config.model.units == 512 and isinstance(config.model.units, int)
    assert config.model.dropout == 0.5 and config.data.cache is False
    assert config.train.max_minutes is None
    assert config.data.train == "my corpus.tsv"
    assert config.model.cell == "lstm"  # untouched default


def test_unknown_keys_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  unitz: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['model.unitz'\]"):
        load_config(TranslationConfig, path)
    with pytest.raises(ValueError, match="unknown config key"):
        load_config(TranslationConfig, None, ["trian.epochs=3"])


def test_bad_values_are_errors():
    with pytest.raises(ValueError, match="config key 'model.units': cannot read 'big' as int"):
        load_config(TranslationConfig, None, ["model.units=big"])
    with pytest.raises(ValueError, match="cannot read 2.5 as int"):
        load_config(TranslationConfig, None, ["train.epochs=2.5"])
    with pytest.raises(ValueError, match="expects key=value"):
        load_config(TranslationConfig, None, ["model.units"])


def test_saved_config_reloads_identically(tmp_path):
    config = load_config(TranslationConfig, "configs/translate/tiny.yaml", ["model.cell=gru"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(TranslationConfig, tmp_path / "config.yaml") == config


@pytest.mark.parametrize("name", ["tiny", "bible_small", "bible"])
def test_shipped_configs_load(name):
    assert load_config(TranslationConfig, f"configs/translate/{name}.yaml").model.units > 0
