import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seq2seq.translation.decoding import SequenceDecoder
from seq2seq.translation.transformer import TransformerTranslator
from tests.seq2seq.helpers import SOURCE, TARGET_IN, batch, train_steps


def tiny_transformer(seed=0, **kwargs):
    import keras

    keras.utils.set_random_seed(seed)
    settings = {"units": 16, "num_layers": 2, "heads": 2, "dropout": 0.1, "max_length": 12}
    model = TransformerTranslator(40, 30, **{**settings, **kwargs})
    model.build()
    return model


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_step_decoding_matches_teacher_forcing(positions):
    model = tiny_transformer(positions=positions)
    logits = np.asarray(model(batch()[0]))
    assert logits.shape == (3, 5, 30) and logits.dtype == np.float32
    outputs, mask, state = model.encode(SOURCE)
    for t in range(TARGET_IN.shape[1]):
        step_logits, state, weights = model.decode_step(
            TARGET_IN[:, t], state, outputs, mask, model.precompute(outputs)
        )
        real = TARGET_IN[:, t] != 0
        np.testing.assert_allclose(np.asarray(step_logits)[real], logits[real, t], atol=1e-4)
        np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, rtol=1e-5)
        assert (np.asarray(weights)[1, 2:] == 0).all()  # source padding is never attended


@pytest.mark.parametrize(
    "positions, steps, offset",
    [("sinusoidal", 15, 2), ("learned", 15, 2), ("sinusoidal", 0, 20), ("learned", 0, 20)],
)
def test_cached_greedy_decoding_matches_rerunning_the_decoder_over_the_prefix(
    positions, steps, offset
):
    """The key/value cache changes the cost of a step, not its result: greedy decoding equals
    the loop that reruns the whole decoder over the prefix for each new token. A trained
    model ends its rows with EOS; an untrained one runs to the buffer's 12 positions."""
    from data_prep.text.subword import BOS_ID, EOS_ID, PAD_ID

    model = tiny_transformer(positions=positions)
    if steps:
        train_steps(model, steps=steps)
    decoded = np.asarray(SequenceDecoder(model, 1.0, offset).decode(SOURCE))

    limits = np.minimum((SOURCE != 0).sum(1) + offset, model.max_length)
    prefix = np.full((3, 1), BOS_ID, "int32")
    finished = np.zeros(3, bool)
    for step in range(decoded.shape[1]):
        logits = np.array(model({"source": SOURCE, "target_in": prefix}))[:, -1]
        logits[:, [PAD_ID, BOS_ID]] = -np.inf
        tokens = np.where(step + 1 >= limits, EOS_ID, logits.argmax(-1))
        tokens = np.where(finished, PAD_ID, tokens)
        finished |= tokens == EOS_ID
        prefix = np.concatenate([prefix, tokens[:, None].astype("int32")], axis=1)
    np.testing.assert_array_equal(decoded, prefix[:, 1:])
    assert finished.all()
    if steps:
        assert decoded.shape[1] < limits.max()  # every row wrote EOS before its limit
    else:
        assert decoded.shape[1] == model.max_length
    _, _, state = model.encode(SOURCE)
    assert len(state) == 1 + 2 * model.num_layers  # the position, then keys and values


def test_training_steps_learn():
    losses = train_steps(tiny_transformer(), steps=20)
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]


def test_greedy_and_beam_search_decode_within_the_buffer():
    model = tiny_transformer()
    decoder = SequenceDecoder(model, max_length_ratio=10.0, max_length_offset=10)
    greedy = np.asarray(decoder.decode(SOURCE))
    beam = np.asarray(decoder.decode(SOURCE, beam_size=3))
    assert greedy.shape[0] == beam.shape[0] == 3
    assert greedy.shape[1] <= model.max_length and beam.shape[1] <= model.max_length


def test_keras_file_reloads_in_fresh_process(tmp_path):
    model = tiny_transformer(positions="learned")
    model.save(tmp_path / "model.keras")
    expected = np.asarray(model(batch()[0]))
    np.save(tmp_path / "expected.npy", expected)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import seq2seq.translation.transformer  # registers the classes
        from tests.seq2seq.helpers import batch
        model = keras.saving.load_model("{tmp_path / "model.keras"}", safe_mode=True)
        np.save("{tmp_path / "actual.npy"}", np.asarray(model(batch()[0])))
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "actual.npy"), expected, atol=1e-6)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="divisible by heads"):
        TransformerTranslator(10, 10, units=10, heads=3)
    with pytest.raises(ValueError, match="unknown positions"):
        TransformerTranslator(10, 10, positions="rotary")


@pytest.mark.slow
def test_the_translation_pipeline_trains_a_transformer(tiny_corpus, tmp_path):
    from pipelines.tasks import translation
    from seq2seq.config import load_config

    settings = [f"data.{s}={tiny_corpus / f'{s}.tsv'}" for s in ("train", "dev", "test")]
    # tiny.yaml is a recurrent config: its embedding size does not apply to a Transformer.
    settings += ["model.type=transformer", "model.embedding_dim=256", "model.heads=2"]
    settings += ["train.epochs=6"]
    config = load_config(translation.TranslationConfig, "configs/translate/tiny.yaml", settings)
    history = translation.train(config, tmp_path / "run")
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.6 * losses[0]
    model = translation.Translator(tmp_path / "run")
    assert type(model.model).__name__ == "TransformerTranslator"
    source = "El rey ve la casa verde."
    greedy, beam = model.translate([source]), model.translate([source], beam_size=3)
    assert greedy[0] and beam[0]
    attention = model.attention(source, beam[0])
    assert attention["weights"].shape == (
        len(attention["target_tokens"]),
        len(attention["source_tokens"]),
    )
    # The export serves the same translations from raw text, in stock ops.
    import tensorflow as tf

    from pipelines.export import export_translator

    served = tf.saved_model.load(str(export_translator(tmp_path / "run", tmp_path / "export")))
    sources = [source, "La niña tiene el pan."]
    expected = {beam: model.translate(sources, beam) for beam in (1, 3)}
    greedy = served.signatures["serving_default"](sentences=tf.constant(sources))
    beam = served.translate_beam(tf.constant(sources), tf.constant(3))
    assert [t.decode() for t in greedy["translations"].numpy()] == expected[1]
    assert [t.decode() for t in beam["translations"].numpy()] == expected[3]
