"""The reference point of the speed table: the same-size attention model written as plainly as
the TensorFlow "NMT with attention" tutorial writes it.

Word-level `TextVectorization`, an `Embedding(mask_zero=True)` + bidirectional LSTM encoder, an
LSTM decoder with `keras.layers.AdditiveAttention` over its outputs, a masked loss, padded
(not bucketed) batches of 64 sentences, and greedy decoding one token at a time in a Python
loop. Only the benchmark uses it; `measure` returns its training tokens/s and decoding
sentences/s on the same sentences as our model.
"""

import time

import keras
import numpy as np
import tensorflow as tf

START, END = "[START]", "[END]"


def _standardize(text):
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"[^\w\s.?!,¿¡]", "")
    text = tf.strings.regex_replace(text, r"([.?!,¿¡])", r" \1 ")
    return tf.strings.join([START, tf.strings.strip(text), END], separator=" ")


class TutorialTranslator(keras.Model):
    def __init__(self, source_vocab, target_vocab, embedding_dim, units):
        super().__init__()
        self.source_embedding = keras.layers.Embedding(source_vocab, embedding_dim, mask_zero=True)
        self.encoder = keras.layers.Bidirectional(
            keras.layers.LSTM(units, return_sequences=True), merge_mode="sum"
        )
        self.target_embedding = keras.layers.Embedding(target_vocab, embedding_dim, mask_zero=True)
        self.decoder = keras.layers.LSTM(units, return_sequences=True, return_state=True)
        self.attention = keras.layers.AdditiveAttention()
        self.output_layer = keras.layers.Dense(target_vocab)

    def encode(self, source):
        return self.encoder(self.source_embedding(source))

    def decode(self, context, target, state=None):
        x, h, c = self.decoder(self.target_embedding(target), initial_state=state)
        attended = self.attention([x, context])
        return self.output_layer(keras.ops.concatenate([x, attended], -1)), [h, c]

    def call(self, inputs):
        source, target = inputs
        return self.decode(self.encode(source), target)[0]


def _masked_loss(y_true, y_pred):
    loss = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    mask = tf.cast(y_true != 0, loss.dtype)
    return tf.reduce_sum(loss * mask) / tf.reduce_sum(mask)


def measure(pairs, dev_sources, vocab_sizes, embedding_dim, units, train_batches=40, warmup=8):
    """Training target tokens/s and greedy decoding sentences/s of the tutorial model.

    `vocab_sizes` (source, target) caps the word vocabularies, as our subword ones are capped.
    """
    sources = [s for s, _ in pairs]
    targets = [t for _, t in pairs]
    source_vec = keras.layers.TextVectorization(vocab_sizes[0], standardize=_standardize)
    target_vec = keras.layers.TextVectorization(vocab_sizes[1], standardize=_standardize)
    source_vec.adapt(sources)
    target_vec.adapt(targets)
    ds = tf.data.Dataset.from_tensor_slices((sources, targets)).shuffle(len(pairs)).batch(64)
    ds = ds.map(
        lambda s, t: ((source_vec(s), target_vec(t)[:, :-1]), target_vec(t)[:, 1:])
    ).prefetch(tf.data.AUTOTUNE)
    # Size the embeddings and the softmax by the vocabularies actually built: on a small corpus
    # they hold fewer words than the caps, and an untrained output row past the end would
    # be an id with no word.
    model = TutorialTranslator(
        source_vec.vocabulary_size(), target_vec.vocabulary_size(), embedding_dim, units
    )
    model.compile(optimizer="adam", loss=_masked_loss)
    tokens, start = 0, None
    for i, (inputs, labels) in enumerate(ds.repeat()):
        if i == warmup:
            tokens, start = 0, time.perf_counter()
        model.train_on_batch(inputs, labels)
        tokens += int(tf.reduce_sum(tf.cast(labels != 0, tf.int32)))
        if i == warmup + train_batches - 1:
            break
    train_seconds = time.perf_counter() - start

    vocabulary = np.array(target_vec.get_vocabulary())
    start_id, end_id = list(vocabulary).index(START), list(vocabulary).index(END)

    def translate(batch, max_length=64):  # the tutorial's loop: one eager step per token
        context = model.encode(source_vec(tf.constant(batch)))
        token = tf.fill([len(batch), 1], start_id)
        done, words, state = np.zeros(len(batch), bool), [], None
        for _ in range(max_length):
            logits, state = model.decode(context, token, state)
            token = tf.argmax(logits[:, -1:, :], axis=-1, output_type=tf.int32)
            ids = token.numpy()[:, 0]
            words.append(np.where(done, "", vocabulary[ids]))
            done |= ids == end_id
            if done.all():
                break
        return [" ".join(w for w in row if w and w != END) for row in zip(*words, strict=True)]

    translate(dev_sources[:2])
    start = time.perf_counter()
    for s in range(0, len(dev_sources), 64):
        translate(dev_sources[s : s + 64])
    decode_seconds = time.perf_counter() - start
    return {
        "parameters": model.count_params(),
        "vocabulary_sizes": [source_vec.vocabulary_size(), target_vec.vocabulary_size()],
        "train_target_tokens_per_second": round(tokens / train_seconds, 1),
        "decode_greedy_sentences_per_second": round(len(dev_sources) / decode_seconds, 2),
    }
