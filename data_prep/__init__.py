"""Data preparation: corpora, text normalization, subword tokenizers and tf.data pipelines."""
