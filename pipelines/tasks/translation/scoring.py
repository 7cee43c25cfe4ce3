"""Forced decoding: the log-probability a trained translation model gives a target sentence
for a source sentence (`python -m pipelines.translate score`), to filter a noisy corpus or to
rerank hypotheses.

The target is normalized and tokenized as in training and ends with EOS; its log-probability
is the sum over its tokens (EOS included) of log p(token | source, previous tokens), from one
teacher-forced pass of the model (dropout off) per batch of similar source lengths, with PAD
and BOS excluded as the decoders exclude them: the score of a beam hypothesis times its length
penalty (`translate --n-best`) is its log-probability here.
"""

import tensorflow as tf

from data_prep.text.normalize import normalize_text
from data_prep.text.subword import BOS_ID, EOS_ID, PAD_ID


def read_pairs(lines, name: str = "stdin") -> list[tuple[str, str]]:
    """`source<TAB>target` lines; a line without exactly one tab is an error naming it."""
    pairs = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(
                f"{name}:{number}: expected source<TAB>target, got {len(parts)} field(s)"
            )
        pairs.append((parts[0], parts[1]))
    return pairs


def score_pairs(translator, pairs, progress: bool = False):
    """[(log-probability, per-token average, tokens)] of each (source, target) pair, in order."""
    if not pairs:
        return []
    targets = translator.target_tokenizer.tokenize(
        tf.constant([normalize_text(t) for _, t in pairs])
    )
    results = [None] * len(pairs)
    for index, source in translator.batches([s for s, _ in pairs], progress, "scoring"):
        target = tf.gather(targets, index)
        bos = tf.fill([target.nrows(), 1], BOS_ID)
        eos = tf.fill([target.nrows(), 1], EOS_ID)
        target_in = tf.concat([bos, target], axis=1).to_tensor()
        target_out = tf.concat([target, eos], axis=1).to_tensor()
        logits = translator.model(
            {"source": source, "target_in": target_in},
            training=False,
        )
        # As the decoders score: PAD and BOS are never generated.
        vocab = tf.range(tf.shape(logits)[-1])
        never = tf.where((vocab == PAD_ID) | (vocab == BOS_ID), -float("inf"), 0.0)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32) + never)
        picked = tf.gather(log_probs, target_out, batch_dims=2)
        # Padding picks PAD, which is -inf here: selected away, not multiplied (-inf * 0).
        real = tf.sequence_mask(target.row_lengths() + 1, tf.shape(target_out)[1])
        totals = tf.reduce_sum(tf.where(real, picked, 0.0), axis=1).numpy()
        counts = tf.reduce_sum(tf.cast(real, tf.float32), axis=1).numpy()
        for i, total, count in zip(index, totals, counts, strict=True):
            results[i] = (float(total), float(total / count), int(count))
    return results
