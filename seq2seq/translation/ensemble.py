"""Several translation models decoded as one: the mean of their log-probabilities.

`Ensemble` has the interface the decoders use (`encode`, `precompute`, `decode_step`, and a
teacher-forced call for scoring), so `SequenceDecoder`'s greedy and beam search run an
ensemble in the same `tf.function` loops as one model. Each member keeps its own encoder
outputs, attention keys and decoder state (nested tuples, one entry per member); at each step
every member scores the same previous tokens, and the ensemble's scores are the mean of the
members' log-softmaxes: a product of the members' distributions (log-linear interpolation, as
Marian and OpenNMT-py ensemble), which beam search's log-softmax renormalizes. The members must
share the target vocabulary (the same target tokenizer); the caller checks that.
"""

import tensorflow as tf


class Ensemble(tf.Module):
    """Translation models with the same vocabularies, scored by their mean log-probability.

    Args:
        models: `Seq2SeqTranslator` or `TransformerTranslator` models (recurrent and
            Transformer members mix); one model gives that model's outputs.
    """

    def __init__(self, models):
        super().__init__(name="ensemble")
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = list(models)
        limits = [m.max_length for m in self.models if getattr(m, "max_length", None)]
        self.max_length = min(limits) if limits else None  # a Transformer's positions

    def encode(self, source, training=False):
        """(each member's encoder outputs, the source mask, each member's decoder state)."""
        encoded = [m.encode(source, training=training) for m in self.models]
        return tuple(e[0] for e in encoded), encoded[0][1], tuple(e[2] for e in encoded)

    def precompute(self, encoder_outputs):
        return tuple(m.precompute(e) for m, e in zip(self.models, encoder_outputs, strict=True))

    def decode_step(self, previous_ids, state, encoder_outputs, source_mask, projected_keys=None):
        """(mean log-probabilities (batch, vocab), each member's new state, mean attention
        weights (batch, src_len))."""
        if projected_keys is None:
            projected_keys = self.precompute(encoder_outputs)
        log_probs, states, weights = [], [], []
        for model, *member in zip(self.models, state, encoder_outputs, projected_keys, strict=True):
            member_state, outputs, keys = member
            logits, member_state, member_weights = model.decode_step(
                previous_ids, member_state, outputs, source_mask, keys
            )
            log_probs.append(tf.nn.log_softmax(tf.cast(logits, tf.float32)))
            states.append(member_state)
            weights.append(tf.cast(member_weights, tf.float32))
        count = float(len(self.models))
        return tf.add_n(log_probs) / count, tuple(states), tf.add_n(weights) / count

    def __call__(self, inputs, training=False):
        """Teacher-forced mean log-probabilities (batch, tgt_len, vocab) of
        {"source", "target_in"}, as a model's call gives logits."""
        log_probs = [
            tf.nn.log_softmax(tf.cast(m(inputs, training=training), tf.float32))
            for m in self.models
        ]
        return tf.add_n(log_probs) / float(len(self.models))
