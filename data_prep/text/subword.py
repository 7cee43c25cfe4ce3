"""Subword tokenizer: a SentencePiece model learned here, run by tensorflow-text.

SentencePiece is lossless (spaces are pieces), so detokenized text has the natural spacing
and casing of the training text, and its NFKC normalization runs inside the graph.
Tokenizing and detokenizing are TensorFlow ops: the same object works in `Dataset.map` and
inside an exported model.
"""

import hashlib
import io
from pathlib import Path

import tensorflow as tf

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def train_sentencepiece(sentences, vocab_size: int, model_type: str = "unigram") -> bytes:
    """Learns a SentencePiece model from an iterable of sentences; returns the model proto.

    Ids 0-3 are reserved: pad, unk, bos, eos. On a corpus too small for `vocab_size`, the
    vocabulary is smaller rather than an error.
    """
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        hard_vocab_limit=False,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        minloglevel=2,
    )
    return model.getvalue()


class SubwordTokenizer(tf.Module):
    """A SentencePiece model as TensorFlow ops.

    Args:
        model: the serialized SentencePiece model proto (bytes).

    `tokenize(texts)` takes a string tensor (batch,) and returns int32 ragged ids
    (batch, None) without BOS/EOS; `detokenize(ids)` drops pad/bos/eos ids and returns
    strings (batch,).
    """

    def __init__(self, model: bytes, name=None):
        super().__init__(name=name)
        import tensorflow_text as tf_text

        self.model = model
        # A distinct name per model: in a SavedModel the SentencePiece resources are created
        # by ops named after it, and two models under one name end up sharing one resource.
        self._sp = tf_text.SentencepieceTokenizer(
            model=model,
            out_type=tf.int32,
            name=f"sentencepiece_{hashlib.sha1(model).hexdigest()[:12]}",
        )
        self.vocab_size = int(self._sp.vocab_size())

    def tokenize(self, texts):
        return self._sp.tokenize(texts)

    def detokenize(self, ids):
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        keep = (ids != PAD_ID) & (ids != BOS_ID) & (ids != EOS_ID)
        return self._sp.detokenize(tf.ragged.boolean_mask(ids, keep))

    def id_to_piece(self, ids):
        return self._sp.id_to_string(ids)

    @classmethod
    def train(cls, sentences, vocab_size: int, model_type: str = "unigram"):
        return cls(train_sentencepiece(sentences, vocab_size, model_type))

    def save(self, path):
        Path(path).write_bytes(self.model)

    @classmethod
    def load(cls, path):
        return cls(Path(path).read_bytes())
