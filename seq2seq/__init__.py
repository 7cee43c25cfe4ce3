"""Recurrent sequence-to-sequence models: layers, models, decoding, training and evaluation."""
