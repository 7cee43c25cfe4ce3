"""Batched greedy and beam-search decoding in stock TensorFlow ops.

The encoder runs once; its outputs and their attention projection are cached, and the decoder
advances one token at a time from its state (`model.decode_step`: the recurrent state, or a
Transformer's key/value cache), never re-running over the prefix. Only stock ops are used (no
`GatherTree`-style custom op), so a decoder exported in a SavedModel serves from plain
TensorFlow.
"""

import tensorflow as tf

from data_prep.text.subword import BOS_ID, EOS_ID, PAD_ID


def _never_generated(logits):
    """Masks PAD and BOS, which a decoder must never emit, out of logits (batch, vocab): adds a
    (vocab,) row of 0 and -inf, cheaper than a `where` over the whole batch."""
    ids = tf.range(tf.shape(logits)[-1])
    return logits + tf.where((ids == PAD_ID) | (ids == BOS_ID), -float("inf"), 0.0)


def _rows_vary(structure):
    """Loop shape invariants for decoding state: axis 0 varies (greedy drops finished rows), and
    axis 1 of tensors of rank 3 or more (a Transformer's key/value caches grow along it)."""

    def loose(t):
        free = 2 if t.shape.rank >= 3 else 1
        return tf.TensorShape([None] * free + t.shape[free:].as_list())

    return tf.nest.map_structure(loose, structure)


class SequenceDecoder(tf.Module):
    """Greedy and beam search over a model with `encode` and `decode_step`
    (`seq2seq.translation.model.Seq2SeqTranslator`, the Transformer, or an `Ensemble` of
    them).

    Args:
        model: the translation model.
        max_length_ratio, max_length_offset: a hypothesis ends (EOS is forced) after
            `ceil(ratio * source_length) + offset` tokens.
        length_penalty: GNMT length penalty alpha, `((5 + length) / 6) ** alpha`; 0 disables it.

    Both methods take source ids (batch, src_len), right-padded with 0, and return token ids
    (batch, steps): EOS ends each row and PAD (0) fills after it.
    """

    def __init__(self, model, max_length_ratio=1.5, max_length_offset=10, length_penalty=0.6):
        super().__init__(name="sequence_decoder")
        self.model = model
        self.max_length_ratio = max_length_ratio
        self.max_length_offset = max_length_offset
        self.length_penalty = length_penalty

    def _start(self, source):
        encoder_outputs, source_mask, state = self.model.encode(source)
        source_lengths = tf.reduce_sum(tf.cast(source_mask, tf.float32), axis=1)
        limits = tf.cast(tf.math.ceil(source_lengths * self.max_length_ratio), tf.int32)
        limits += self.max_length_offset
        if getattr(self.model, "max_length", None):  # a Transformer has max_length positions
            limits = tf.minimum(limits, self.model.max_length)
        return encoder_outputs, source_mask, state, limits

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def greedy(self, source):
        encoder_outputs, source_mask, state, limits = self._start(source)
        projected_keys = self.model.precompute(encoder_outputs)
        batch = tf.shape(source)[0]
        # The loop runs on the unfinished rows only: `rows` maps each live row to its input
        # row. Once a quarter of the live rows has finished, they are dropped (one gather of
        # the state and the encoder outputs), so short sentences stop costing steps while the
        # longest one is decoded; outputs are scattered back to the input rows (PAD elsewhere).
        live = (tf.range(batch), state, encoder_outputs, source_mask, projected_keys, limits)

        def more(step, tokens, finished, outputs, live):
            return (step < tf.reduce_max(live[-1])) & ~tf.reduce_all(finished)

        def advance(step, tokens, finished, outputs, live):
            rows, state, encoder_outputs, source_mask, projected_keys, limits = live
            logits, state, _ = self.model.decode_step(
                tokens, state, encoder_outputs, source_mask, projected_keys
            )
            tokens = tf.argmax(_never_generated(logits), axis=-1, output_type=tf.int32)
            tokens = tf.where(step + 1 >= limits, EOS_ID, tokens)
            tokens = tf.where(finished, PAD_ID, tokens)
            outputs = outputs.write(step, tf.scatter_nd(rows[:, tf.newaxis], tokens, [batch]))
            finished = finished | tf.equal(tokens, EOS_ID)
            live = (rows, state, encoder_outputs, source_mask, projected_keys, limits)
            unfinished = tf.reduce_sum(tf.cast(~finished, tf.int32))

            def drop():
                keep = tf.reshape(tf.where(~finished), [-1])
                gathered = tf.nest.map_structure(lambda t: tf.gather(t, keep), live)
                return gathered, tf.gather(tokens, keep), tf.gather(finished, keep)

            live, tokens, finished = tf.cond(
                (unfinished > 0) & (4 * unfinished <= 3 * tf.size(rows)),
                drop,
                lambda: (live, tokens, finished),
            )
            return step + 1, tokens, finished, outputs, live

        # An explicit `tf.while_loop`, not a Python `while` left to AutoGraph: it must not
        # depend on AutoGraph converting this method (it did not, now and then, in a notebook).
        loop = (
            tf.constant(0),
            tf.fill([batch], BOS_ID),
            tf.zeros([batch], tf.bool),
            tf.TensorArray(tf.int32, size=0, dynamic_size=True),
            live,
        )
        invariants = (
            tf.TensorShape([]),
            tf.TensorShape([None]),
            tf.TensorShape([None]),
            tf.TensorShape(None),
            _rows_vary(live),
        )
        _, _, _, outputs, _ = tf.while_loop(more, advance, loop, shape_invariants=invariants)
        return tf.transpose(outputs.stack())

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)]
    )
    def beam_search(self, source, beam_size):
        sequences, scores, lengths = self._search(source, beam_size)
        best = tf.argmax(scores / self._penalty(lengths), axis=1, output_type=tf.int32)
        return tf.gather(sequences, best, batch_dims=1)

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)]
    )
    def n_best(self, source, beam_size):
        """Every one of the `beam_size` final hypotheses, best first: (token ids (batch,
        beam_size, length), scores (batch, beam_size): summed log-probability over the length
        penalty, the score beam search ranks by). The first is `beam_search`'s output."""
        sequences, scores, lengths = self._search(source, beam_size)
        normalized = scores / self._penalty(lengths)
        order = tf.argsort(normalized, axis=1, direction="DESCENDING", stable=True)
        return tf.gather(sequences, order, batch_dims=1), tf.gather(normalized, order, batch_dims=1)

    def _search(self, source, beam_size):
        """The beam search loop: (sequences (batch, k, length), summed log-probabilities
        (batch, k), lengths (batch, k))."""
        encoder_outputs, source_mask, state, limits = self._start(source)
        batch, k = tf.shape(source)[0], beam_size
        # Every beam is a row of a (batch * k) batch: row b * k + i is beam i of sentence b.
        # Nested structures: an ensemble (`seq2seq.translation.ensemble`) keeps one per member.
        encoder_outputs, source_mask, state = tf.nest.map_structure(
            lambda t: tf.repeat(t, k, axis=0), (encoder_outputs, source_mask, state)
        )
        limits = tf.reshape(tf.repeat(limits, k, axis=0), [batch, k])
        projected_keys = self.model.precompute(encoder_outputs)

        # Only beam 0 is live at the start, so the first top-k picks k distinct tokens.
        scores = tf.tile(
            tf.concat([[0.0], tf.fill([k - 1], -float("inf"))], axis=0)[tf.newaxis], [batch, 1]
        )  # (batch, k) summed log-probabilities

        def more(step, tokens, scores, lengths, finished, sequences, state):
            return (step < tf.reduce_max(limits)) & ~tf.reduce_all(finished)

        def advance(step, tokens, scores, lengths, finished, sequences, state):
            logits, state, _ = self.model.decode_step(
                tokens, state, encoder_outputs, source_mask, projected_keys
            )
            vocab = tf.shape(logits)[-1]
            log_probs = tf.nn.log_softmax(_never_generated(logits))
            log_probs = tf.reshape(log_probs, [batch, k, vocab])
            token_ids = tf.range(vocab)[tf.newaxis, tf.newaxis]
            # A finished beam may only continue with PAD at no cost; a beam at its length
            # limit may only take EOS.
            log_probs = tf.where(
                finished[..., tf.newaxis],
                tf.where(token_ids == PAD_ID, 0.0, -float("inf")),
                log_probs,
            )
            at_limit = (step + 1 >= limits) & ~finished
            log_probs = tf.where(
                at_limit[..., tf.newaxis] & (token_ids != EOS_ID), -float("inf"), log_probs
            )
            candidates = scores[..., tf.newaxis] + log_probs  # (batch, k, vocab)
            new_lengths = lengths + tf.cast(~finished, tf.int32)
            ranked = candidates / self._penalty(new_lengths)[..., tf.newaxis]
            _, top = tf.math.top_k(tf.reshape(ranked, [batch, -1]), k=k)  # (batch, k)
            parents, tokens = top // vocab, top % vocab
            scores = tf.gather(tf.reshape(candidates, [batch, -1]), top, batch_dims=1)
            lengths = tf.gather(new_lengths, parents, batch_dims=1)
            finished = tf.gather(finished, parents, batch_dims=1) | (tokens == EOS_ID)
            sequences = tf.concat(
                [tf.gather(sequences, parents, batch_dims=1), tokens[..., tf.newaxis]], axis=-1
            )
            rows = tf.reshape(tf.range(batch)[:, tf.newaxis] * k + parents, [-1])
            state = tf.nest.map_structure(lambda s: tf.gather(s, rows), state)
            return step + 1, tf.reshape(tokens, [-1]), scores, lengths, finished, sequences, state

        # An explicit `tf.while_loop` (see `greedy`).
        loop = (
            tf.constant(0),
            tf.fill([batch * k], BOS_ID),
            scores,
            tf.zeros([batch, k], tf.int32),
            tf.zeros([batch, k], tf.bool),
            tf.zeros([batch, k, 0], tf.int32),
            state,
        )
        invariants = (
            tf.TensorShape([]),
            tf.TensorShape([None]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None, None]),
            _rows_vary(state),
        )
        _, _, scores, lengths, _, sequences, _ = tf.while_loop(
            more, advance, loop, shape_invariants=invariants
        )
        return sequences, scores, lengths

    def _penalty(self, lengths):
        return ((5.0 + tf.cast(lengths, tf.float32)) / 6.0) ** self.length_penalty

    def decode(self, source, beam_size: int = 1):
        """Greedy for `beam_size` 1, beam search otherwise."""
        source = tf.convert_to_tensor(source, tf.int32)
        if beam_size <= 1:
            return self.greedy(source)
        return self.beam_search(source, tf.constant(beam_size, tf.int32))
