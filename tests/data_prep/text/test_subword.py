import tensorflow as tf

from data_prep.text.subword import BOS_ID, EOS_ID, PAD_ID, SubwordTokenizer


def test_round_trip_keeps_spacing_and_casing(tiny_tokenizers):
    _, target = tiny_tokenizers
    texts = ["The king sees the green house.", "The girl has the big book."]
    ids = target.tokenize(tf.constant(texts))
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32
    assert [t.decode() for t in target.detokenize(ids).numpy()] == texts


def test_detokenize_drops_special_ids_and_padding(tiny_tokenizers):
    _, target = tiny_tokenizers
    ids = target.tokenize(tf.constant(["The dog loves the bread."])).to_tensor()
    padded = tf.concat([[[BOS_ID]], ids, [[EOS_ID, PAD_ID, PAD_ID]]], axis=1)
    text = target.detokenize(padded).numpy()[0].decode()
    assert text == "The dog loves the bread."
    assert "##" not in text and " ." not in text


def test_save_and_load_give_same_ids(tiny_tokenizers, tmp_path):
    source, _ = tiny_tokenizers
    source.save(tmp_path / "source.model")
    loaded = SubwordTokenizer.load(tmp_path / "source.model")
    text = tf.constant(["El perro ama el pan azul."])
    assert loaded.vocab_size == source.vocab_size
    assert loaded.tokenize(text).to_list() == source.tokenize(text).to_list()


def test_tokenizer_runs_inside_dataset_map(tiny_tokenizers):
    source, _ = tiny_tokenizers
    ds = tf.data.Dataset.from_tensor_slices(["El rey ve la casa.", "La niña busca el libro."])
    ds = ds.batch(2).map(lambda s: source.tokenize(s).row_lengths())
    lengths = next(iter(ds)).numpy()
    assert lengths.shape == (2,) and (lengths > 0).all()
