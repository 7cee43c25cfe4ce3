"""Words with times and confidences from CTC log-probabilities.

Times: output frame i of a model that subsamples its input by `s` covers input frames
[i*s, (i+1)*s), and input frame j is centred at j * hop / rate seconds (librosa's centred
STFT), so output frame i spans [i, i+1) * `frame_seconds` with frame_seconds = s * hop / rate.
A word runs from the first output frame of its first character to the end of the last frame
of its last character, plus `end_pad` seconds: CTC emits a character as a spike, and the
last letter's spike comes before the sound of the word ends (`benchmarks/long_audio.py`
measures the offsets against known boundaries; `decode.word_end_pad` is set from the dev
split's). The pad never runs into the next word or past the segment. The word before a pause
is then extended to where the voice activity detector heard the speech end
(`pipelines.tasks.asr.long_transcription.end_at_speech`).

Confidence of a word: the smallest, over its characters, of the character's posterior where
the path emits it (its best frame within the word's span). The weakest character decides, as
in NeMo's default word aggregation (`min`): one unsure letter is enough to make a word wrong,
and a mean over a long word would hide it. An utterance's confidence is the mean of its
words'. `pipelines.asr evaluate` reports how well it ranks errors.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Word:
    """A recognized word: `start`/`end` in seconds, `confidence` in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float

    def as_dict(self) -> dict:
        return {
            "word": self.word,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "confidence": round(self.confidence, 4),
        }


def _words(emissions, space: str):
    """[(word, start frame, end frame)] of emitted characters [(char, first frame, end frame)]:
    a word runs from its first character's first frame to its last character's end; the
    space character separates words."""
    words, chars, start, end = [], [], None, None
    for char, first, last in emissions:
        if char == space:
            if chars:
                words.append(("".join(chars), start, end))
            chars = []
            continue
        if not chars:
            start = first
        chars.append(char)
        end = last
    if chars:
        words.append(("".join(chars), start, end))
    return words


def greedy_words(log_probs: np.ndarray, alphabet: str, space: str = " "):
    """Best-path decoding of (frames, classes) log-probabilities (blank = class 0, class i =
    `alphabet[i - 1]`): returns [(word, start frame, end frame)], end exclusive. Repeats
    merge unless a blank separates them, as in TensorFlow's greedy CTC decoder."""
    emissions, previous = [], 0
    for t, k in enumerate(np.argmax(log_probs, axis=1) if len(log_probs) else []):
        if k != 0 and k == previous:
            emissions[-1][2] = t + 1  # the character's run goes on
        elif k != 0:
            emissions.append([alphabet[k - 1], t, t + 1])
        previous = k
    return _words(emissions, space)


def forced_words(log_probs: np.ndarray, text: str, alphabet: str, space: str = " "):
    """The best CTC path of (frames, classes) log-probabilities that spells `text` (Viterbi
    over the blank-interleaved labels), as [(word, start frame, end frame)] like
    `greedy_words`. For the text of a beam search, whose own frame bookkeeping is per merged
    prefix, not per path. Characters outside `alphabet` are dropped; a text the frames
    cannot hold (more labels than frames allow) raises ValueError."""
    labels = [alphabet.index(c) + 1 for c in text.strip() if c in alphabet]
    if not labels or len(log_probs) == 0:
        return []
    states = np.zeros(2 * len(labels) + 1, np.int64)
    states[1::2] = labels
    # A state may also come from two back when it is a label unlike the label before it.
    skip = np.zeros(len(states), bool)
    skip[3::2] = states[3::2] != states[1:-2:2]
    score = np.full(len(states), -np.inf)
    score[:2] = log_probs[0, states[:2]]
    moves = np.zeros((len(log_probs), len(states)), np.int8)
    for t in range(1, len(log_probs)):
        stay, step = score, np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        options = np.stack([stay, step, jump])
        moves[t] = np.argmax(options, axis=0)
        score = options.max(axis=0) + log_probs[t, states]
    state = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
    if not np.isfinite(score[state]):
        raise ValueError(f"{len(log_probs)} frames cannot hold the text {text!r}")
    path = np.empty(len(log_probs), np.int64)
    for t in range(len(log_probs) - 1, -1, -1):
        path[t] = state
        state -= moves[t, state]
    emissions = []
    for position, label in enumerate(labels):
        frames = np.flatnonzero(path == 2 * position + 1)
        emissions.append((alphabet[label - 1], int(frames[0]), int(frames[-1]) + 1))
    return _words(emissions, space)


def word_confidence(log_probs: np.ndarray, word: str, start: int, end: int, alphabet: str):
    """Smallest over the word's characters of the character's best posterior in frames
    [start, end) (see the module docstring)."""
    span = np.exp(log_probs[start : max(end, start + 1)])
    scores = [span[:, alphabet.index(c) + 1].max() for c in word if c in alphabet]
    return float(min(scores)) if scores else 0.0


def timed_words(
    log_probs: np.ndarray,
    spans,
    alphabet: str,
    frame_seconds: float,
    offset: float = 0.0,
    end_pad: float = 0.0,
) -> list[Word]:
    """`Word`s of [(word, start frame, end frame)] spans: seconds from `offset`, each end
    `end_pad` seconds later but no later than the next word's start or the last frame's
    end, and confidences from `log_probs`."""
    limits = [start for _, start, _ in spans[1:]] + [len(log_probs)] * bool(spans)
    return [
        Word(
            word,
            offset + start * frame_seconds,
            offset + min(end * frame_seconds + end_pad, limit * frame_seconds),
            word_confidence(log_probs, word, start, end, alphabet),
        )
        for (word, start, end), limit in zip(spans, limits, strict=True)
    ]


def utterance_confidence(words) -> float | None:
    """Mean confidence of `words` (None when there is none)."""
    return float(np.mean([w.confidence for w in words])) if words else None
