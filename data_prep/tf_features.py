"""The librosa features of `data_prep.audio`, recomputed with `tf.signal` inside a graph.

An exported speech model takes raw waveforms, so its front end must be TensorFlow ops; this
module reproduces `compute_features` step by step: zero padding of n_fft/2 on both sides
(librosa's `center=True` with its default constant padding), a periodic Hann window of
`win_length` centered in `n_fft`, the power spectrum, librosa's own mel filter matrix (Slaney
scale and normalization, embedded as a constant, so the HTK filters of
`tf.signal.linear_to_mel_weight_matrix` never enter), the same log floor, the orthonormal
DCT-II for MFCC, and per-utterance mean/variance over each row's true frames. A test checks
the match on real speech.
"""

import librosa
import tensorflow as tf

from data_prep.audio import FeatureConfig


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
        return 1 + tf.cast(lengths, tf.int32) // self.config.hop_length

    def __call__(self, waveforms, lengths):
        config = self.config
        half = config.n_fft // 2
        padded = tf.pad(waveforms, [[0, 0], [half, half]])
        stft = tf.signal.stft(
            padded,
            frame_length=config.n_fft,
            frame_step=config.hop_length,
            fft_length=config.n_fft,
            window_fn=lambda length, dtype: self.window,
            pad_end=False,
        )  # (batch, frames, n_fft // 2 + 1)
        power = tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2
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
