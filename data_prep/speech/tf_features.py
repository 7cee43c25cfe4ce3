"""The librosa features of `data_prep.speech.audio`, recomputed with `tf.signal` inside a graph.

An exported speech model takes raw waveforms, so its front end must be TensorFlow ops; this
module reproduces `compute_features` step by step: zero padding of n_fft/2 on both sides
(librosa's `center=True` with its default constant padding), a periodic Hann window of
`win_length` centered in `n_fft`, the power spectrum, librosa's own mel filter matrix (Slaney
scale and normalization, embedded as a constant, so the HTK filters of
`tf.signal.linear_to_mel_weight_matrix` never enter), the same log floor, the orthonormal
DCT-II for MFCC, and per-utterance mean/variance over each row's true frames. Whisper's
log-mel (`kind: whisper`) reflects instead of zero padding each row at its own true end, drops
the last frame, and floors each row 8 below its own maximum over its true frames. A test checks
the match on real speech.
"""

import librosa
import tensorflow as tf

from data_prep.speech.audio import FeatureConfig


class TFFeatureExtractor(tf.Module):
    """Batched waveforms -> features, as TensorFlow ops.

    Args:
        config: the `FeatureConfig` the model was trained with.

    Call arguments:
        waveforms: float32 (batch, samples) at `config.sample_rate`, right-padded with zeros.
        lengths: int32 (batch,) true sample counts.

    Returns:
        (features (batch, frames, feature_size), frame_lengths (batch,)); frames past a row's
        length are zero.
    """

    def __init__(self, config: FeatureConfig, name="feature_extractor"):
        super().__init__(name=name)
        self.config = config
        window = librosa.filters.get_window("hann", config.win_length, fftbins=True)
        self.window = tf.constant(librosa.util.pad_center(window, size=config.n_fft), tf.float32)
        mel = librosa.filters.mel(
            sr=config.sample_rate,
            n_fft=config.n_fft,
            n_mels=config.n_mels,
            fmin=config.fmin,
            fmax=config.fmax,
        )
        self.mel_matrix = tf.constant(mel.T, tf.float32)  # (n_fft // 2 + 1, n_mels)

    def frame_lengths(self, lengths):
        lengths = tf.cast(lengths, tf.int32)
        if self.config.kind == "whisper":
            return tf.maximum(lengths, self.config.n_fft) // self.config.hop_length
        return 1 + lengths // self.config.hop_length

    def _power(self, padded):
        """Power spectrum of already padded signals (..., samples) -> (..., frames, bins)."""
        config = self.config
        stft = tf.signal.stft(
            padded,
            frame_length=config.n_fft,
            frame_step=config.hop_length,
            fft_length=config.n_fft,
            window_fn=lambda length, dtype: self.window,
            pad_end=False,
        )
        return tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2

    def _whisper(self, waveforms, lengths):
        """Whisper's log-mel, row by row at its true length (reflect padding sits at each
        row's own end, so rows cannot share one padded STFT)."""
        config = self.config
        half = config.n_fft // 2
        minimum = config.n_fft
        longest = tf.maximum(tf.shape(waveforms)[1], minimum)
        waveforms = tf.pad(waveforms, [[0, 0], [0, longest - tf.shape(waveforms)[1]]])

        def one(row):
            wave, length = row
            wave = wave[: tf.maximum(length, minimum)]
            padded = tf.pad(wave[None], [[0, 0], [half, half]], mode="REFLECT")[0]
            padded = tf.pad(padded, [[0, longest + 2 * half - tf.shape(padded)[0]]])
            return self._power(padded)  # (frames of the longest row + 1, n_fft // 2 + 1)

        power = tf.map_fn(
            one, (waveforms, tf.cast(lengths, tf.int32)), fn_output_signature=tf.float32
        )
        frame_lengths = self.frame_lengths(lengths)
        power = power[:, : tf.reduce_max(frame_lengths)]  # the last frame dropped
        log_spec = tf.math.log(tf.maximum(tf.matmul(power, self.mel_matrix), 1e-10))
        log_spec = log_spec / tf.math.log(10.0)  # (batch, frames, n_mels)
        mask = tf.sequence_mask(frame_lengths, tf.shape(log_spec)[1])[..., None]
        peak = tf.reduce_max(tf.where(mask, log_spec, -1e30), axis=[1, 2], keepdims=True)
        features = (tf.maximum(log_spec, peak - 8.0) + 4.0) / 4.0
        return features * tf.cast(mask, features.dtype), frame_lengths

    def __call__(self, waveforms, lengths):
        config = self.config
        if config.kind == "whisper":
            return self._whisper(waveforms, lengths)
        half = config.n_fft // 2
        power = self._power(tf.pad(waveforms, [[0, 0], [half, half]]))  # (batch, frames, bins)
        features = tf.math.log(tf.matmul(power, self.mel_matrix) + 1e-6)  # (batch, frames, mels)
        if config.kind == "mfcc":
            features = tf.signal.dct(features, type=2, norm="ortho")[..., : config.n_mfcc]
        frame_lengths = self.frame_lengths(lengths)
        frames = tf.shape(features)[1]
        mask = tf.sequence_mask(frame_lengths, frames, dtype=features.dtype)[..., None]
        if config.normalization == "utterance":
            count = tf.cast(frame_lengths, features.dtype)[:, None, None]
            mean = tf.reduce_sum(features * mask, axis=1, keepdims=True) / count
            variance = tf.reduce_sum(((features - mean) * mask) ** 2, 1, keepdims=True) / count
            features = (features - mean) / (tf.sqrt(variance) + 1e-5)
        return features * mask, frame_lengths
