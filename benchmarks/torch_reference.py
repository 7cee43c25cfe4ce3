"""The same-size models written in PyTorch, the way a PyTorch user writes them: the other
reference point of the speed table (`python -m benchmarks.run --torch`).

- `Translator`: embedding, a bidirectional `nn.LSTM` encoder over packed sequences, a bridge
  (`Linear` + tanh of the concatenated final states of both directions) to the initial state of
  an `nn.LSTM` decoder, additive (Bahdanau) attention from the decoder outputs to the encoder
  outputs, a tanh attention projection and the vocabulary softmax; dropout on the embeddings
  and before the softmax; `nn.CrossEntropyLoss(ignore_index=0, label_smoothing=...)`; Adam
  with the gradient norm clipped. Greedy decoding is the natural batched Python loop: one
  decoder step per token until every row has ended.
- `CTCRecognizer`: stride-2 `Conv1d` + ReLU subsampling (Keras's "same" padding), dropout, a
  stacked bidirectional `nn.LSTM` over packed sequences, a `Linear` to the characters, and
  `nn.CTCLoss` (blank 0; summed per utterance and averaged over the batch, as ours).

`from_keras` copies the weights of our Keras model into the PyTorch one (the gate order of
both LSTMs is i, f, c/g, o), so both compute the same function: the benchmark checks that
the losses agree on a batch, and decodes a trained run with both. Only the benchmark uses this
module; `torch` is the optional `bench` extra (`pip install -e .[bench]`).
"""

import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD_ID, BOS_ID, EOS_ID = 0, 2, 3


def _unpacked(lstm, x, lengths, state=None):
    """Runs `lstm` over right-padded x (batch, time, features) with true `lengths`."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    outputs, state = lstm(packed, state)
    return pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])[0], state


class Translator(nn.Module):
    """Sizes as `seq2seq.translation.model.Seq2SeqTranslator` (LSTM cell, `attention: output`)."""

    def __init__(self, vocab_sizes, embedding_dim, units, layers, dropout, attention_units):
        super().__init__()
        source_vocab, target_vocab = vocab_sizes
        self.source_embedding = nn.Embedding(source_vocab, embedding_dim)
        self.encoder = nn.LSTM(
            embedding_dim,
            units,
            layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,  # between layers
        )
        self.bridge_h = nn.Linear(2 * units, units)
        self.bridge_c = nn.Linear(2 * units, units)
        self.target_embedding = nn.Embedding(target_vocab, embedding_dim)
        self.decoder = nn.LSTM(embedding_dim, units, batch_first=True)
        self.query = nn.Linear(units, attention_units, bias=False)
        self.key = nn.Linear(2 * units, attention_units)
        self.score = nn.Linear(attention_units, 1, bias=False)
        self.attention_projection = nn.Linear(3 * units, units)
        self.output = nn.Linear(units, target_vocab)
        self.dropout = nn.Dropout(dropout)

    def encode(self, source):
        mask = source != PAD_ID
        x = self.dropout(self.source_embedding(source))
        outputs, (h, c) = _unpacked(self.encoder, x, mask.sum(1))  # (batch, src, 2 * units)
        state = (  # (1, batch, units) each, from the last layer's two directions
            torch.tanh(self.bridge_h(torch.cat([h[-2], h[-1]], -1)))[None],
            torch.tanh(self.bridge_c(torch.cat([c[-2], c[-1]], -1)))[None],
        )
        return outputs, mask, state

    def attend(self, queries, keys, values, mask):
        """queries (batch, tgt, units), keys = self.key(values) -> context (batch, tgt, 2u)."""
        scores = self.score(torch.tanh(self.query(queries)[:, :, None] + keys[:, None]))
        scores = scores.squeeze(-1).masked_fill(~mask[:, None], -1e9)  # (batch, tgt, src)
        return torch.softmax(scores, -1) @ values

    def logits(self, outputs, encoded, mask, keys):
        context = self.attend(outputs, keys, encoded, mask)
        hidden = torch.tanh(self.attention_projection(torch.cat([outputs, context], -1)))
        return self.output(self.dropout(hidden))

    def forward(self, source, target_in):
        encoded, mask, state = self.encode(source)
        y = self.dropout(self.target_embedding(target_in))
        outputs, _ = self.decoder(y, state)  # padded: the loss ignores padded positions
        return self.logits(outputs, encoded, mask, self.key(encoded))

    @torch.inference_mode()
    def greedy(self, source, max_length_ratio, max_length_offset):
        """Token ids (batch, steps): EOS ends each row, PAD after it (as our decoder)."""
        encoded, mask, state = self.encode(source)
        keys = self.key(encoded)
        limits = torch.ceil(mask.sum(1) * max_length_ratio).long() + max_length_offset
        tokens = torch.full((source.shape[0],), BOS_ID)
        finished = torch.zeros(source.shape[0], dtype=torch.bool)
        result = []
        for step in range(int(limits.max())):
            outputs, state = self.decoder(self.target_embedding(tokens)[:, None], state)
            logits = self.logits(outputs, encoded, mask, keys)[:, 0]
            logits[:, [PAD_ID, BOS_ID]] = -float("inf")
            tokens = logits.argmax(-1)
            tokens = torch.where(step + 1 >= limits, EOS_ID, tokens)
            tokens = torch.where(finished, PAD_ID, tokens)
            result.append(tokens)
            finished |= tokens == EOS_ID
            if finished.all():
                break
        return torch.stack(result, 1)


class CTCRecognizer(nn.Module):
    """Sizes as `seq2seq.speech.model.CTCSpeechModel` (LSTM cell)."""

    def __init__(self, feature_size, vocab_size, subsampling, conv_filters, units, layers, dropout):
        super().__init__()
        sizes = [feature_size] + [conv_filters] * (subsampling.bit_length() - 1)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(a, b, 3, stride=2) for a, b in zip(sizes, sizes[1:], strict=False)
        )
        self.lstm = nn.LSTM(
            sizes[-1],
            units,
            layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,  # between layers
        )
        self.output = nn.Linear(2 * units, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, features, lengths):
        """features (batch, frames, features) -> (logits (batch, time, vocab), lengths)."""
        x = features.transpose(1, 2)
        stride = 2 ** len(self.convolutions)  # padded to a multiple of it, as the Keras model
        x = nn.functional.pad(x, (0, -x.shape[2] % stride))
        for conv in self.convolutions:
            pad = max(2 * ((x.shape[2] + 1) // 2 - 1) + 3 - x.shape[2], 0)  # as Keras "same"
            x = torch.relu(conv(nn.functional.pad(x, (pad // 2, pad - pad // 2))))
            lengths = (lengths + 1) // 2
        x, _ = _unpacked(self.lstm, self.dropout(x.transpose(1, 2)), lengths)
        return self.output(self.dropout(x)), lengths


def _tensor(value):
    return torch.from_numpy(np.ascontiguousarray(value))


def _copy_lstm(lstm, suffix, keras_layer):
    kernel, recurrent, bias = (w.numpy() for w in keras_layer.cell.weights)
    getattr(lstm, "weight_ih" + suffix).data = _tensor(kernel.T)
    getattr(lstm, "weight_hh" + suffix).data = _tensor(recurrent.T)
    getattr(lstm, "bias_ih" + suffix).data = _tensor(bias)
    getattr(lstm, "bias_hh" + suffix).data = torch.zeros_like(_tensor(bias))


def _copy_dense(linear, keras_dense):
    linear.weight.data = _tensor(keras_dense.kernel.numpy().T)
    if linear.bias is not None:
        linear.bias.data = _tensor(keras_dense.bias.numpy())


def from_keras(model):
    """The PyTorch model with the weights of our Keras model (`Seq2SeqTranslator` with one
    LSTM encoder layer, or `CTCSpeechModel` with LSTM layers)."""
    if hasattr(model, "decoder_rnn"):
        if model.cell != "lstm" or model.attention != "output":
            raise ValueError("the PyTorch reference is an LSTM with attention: output")
        ours = Translator(
            (model.source_vocab_size, model.target_vocab_size),
            model.embedding_dim,
            model.units,
            model.num_layers,
            model.dropout,
            model.attention_units,
        )
        ours.source_embedding.weight.data = _tensor(model.source_embedding.embeddings.numpy())
        ours.target_embedding.weight.data = _tensor(model.target_embedding.embeddings.numpy())
        for i, layer in enumerate(model.encoder_layers):
            _copy_lstm(ours.encoder, f"_l{i}", layer.forward_layer)
            _copy_lstm(ours.encoder, f"_l{i}_reverse", layer.backward_layer)
        _copy_lstm(ours.decoder, "_l0", model.decoder_rnn)
        attention = model.bahdanau_attention
        pairs = [
            (ours.bridge_h, model.bridges[0]),
            (ours.bridge_c, model.bridges[1]),
            (ours.query, attention.query_dense),
            (ours.key, attention.key_dense),
            (ours.score, attention.score_dense),
            (ours.attention_projection, model.attention_projection),
            (ours.output, model.output_projection),
        ]
    else:
        if model.cell != "lstm":
            raise ValueError("the PyTorch reference is an LSTM")
        ours = CTCRecognizer(
            model.feature_size,
            model.vocab_size,
            model.subsampling,
            model.conv_filters,
            model.units,
            model.num_layers,
            model.dropout,
        )
        for conv, keras_conv in zip(ours.convolutions, model.convolutions, strict=True):
            conv.weight.data = _tensor(keras_conv.kernel.numpy().transpose(2, 1, 0))
            conv.bias.data = _tensor(keras_conv.bias.numpy())
        for i, layer in enumerate(model.recurrent):
            _copy_lstm(ours.lstm, f"_l{i}", layer.forward_layer)
            _copy_lstm(ours.lstm, f"_l{i}_reverse", layer.backward_layer)
        pairs = [(ours.output, model.output_projection)]
    for linear, dense in pairs:
        _copy_dense(linear, dense)
    return ours


class Trainer:
    """One PyTorch training step per call on a batch of NumPy arrays from our input pipeline:
    translation `({"source", "target_in"}, target_out)`, speech
    `({"features", "feature_lengths"}, labels)`. Adam with the gradient norm clipped (a
    PyTorch user clips the global norm)."""

    def __init__(self, model, learning_rate=1e-3, clipnorm=1.0, label_smoothing=0.0):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        self.clipnorm = clipnorm
        self.cross_entropy = nn.CrossEntropyLoss(
            ignore_index=PAD_ID, label_smoothing=label_smoothing
        )

    def loss(self, inputs, targets):
        targets = _tensor(np.asarray(targets)).long()
        if isinstance(self.model, Translator):
            logits = self.model(_tensor(inputs["source"]).long(), _tensor(inputs["target_in"]))
            return self.cross_entropy(logits.flatten(0, 1), targets.flatten())
        lengths = _tensor(np.asarray(inputs["feature_lengths"])).long()
        logits, lengths = self.model(_tensor(inputs["features"]), lengths)
        log_probs = torch.log_softmax(logits, -1).transpose(0, 1)  # (time, batch, vocab)
        label_lengths = (targets != 0).sum(1)
        losses = nn.functional.ctc_loss(
            log_probs, targets, lengths, label_lengths, blank=0, reduction="none"
        )
        return losses.mean()

    def __call__(self, inputs, targets) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(inputs, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clipnorm)
        self.optimizer.step()
        return loss.item()

    @torch.no_grad()
    def eval_loss(self, inputs, targets) -> float:
        self.model.eval()
        return float(self.loss(inputs, targets))


def greedy_sentences_per_second(model, batches, max_length_ratio, max_length_offset):
    """Greedy decoding speed over right-padded source id batches (NumPy); also returns the
    decoded ids, to compare with ours."""
    model.eval()
    model.greedy(_tensor(batches[0][:2]).long(), max_length_ratio, max_length_offset)  # warm-up
    start, decoded = time.perf_counter(), []
    for source in batches:
        decoded.append(model.greedy(_tensor(source).long(), max_length_ratio, max_length_offset))
    seconds = time.perf_counter() - start
    return sum(len(b) for b in batches) / seconds, [d.numpy() for d in decoded]


def setup(threads=None):
    """Sets PyTorch's intra-op threads (None: its default, one per core); returns the info."""
    if threads:
        torch.set_num_threads(threads)
    return {"torch": torch.__version__, "threads": torch.get_num_threads()}
