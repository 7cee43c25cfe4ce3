"""Text: normalization, parallel-corpus readers, SentencePiece subwords and the translation
tf.data pipeline."""
