"""The models behind the server: a translation model and a speech model, each loaded from a
run directory or an exported SavedModel, with the batched calls the `DynamicBatcher` makes.

Translation: items are sentences; the key is (beam size, n-best). Speech: a request's audio
is read and cut into segments at pauses (`data_prep.speech.long_audio`, as `transcribe` does) on the
event loop's side; items are segments, so the segments of several uploads share one pass of
the network, and the key is the beam size. Word times and confidences come back with the
segments (`pipelines.tasks.asr.long_transcription`).
"""

import io
import re
from pathlib import Path

import soundfile as sf

from data_prep.speech.audio import AudioError
from data_prep.speech.long_audio import read_blocks, segments
from pipelines.export import ExportedRecognizer, ExportedTranslator, is_export


class TranslationService:
    """A translation run directory or export, ready to serve.

    Args:
        path: the run directory or exported SavedModel.
        checkpoint: which model of a run ("auto", "best", "averaged").
    """

    kind = "translate"

    def __init__(self, path, checkpoint: str = "auto"):
        from pipelines.tasks.translation.task import Translator

        self.path = Path(path)
        self.exported = is_export(path)
        self.model = ExportedTranslator(path) if self.exported else Translator(path, checkpoint)
        # n-best lists need the run's beam search; an export returns the best hypothesis.
        self.has_n_best = not self.exported

    def info(self) -> dict:
        return {
            "path": str(self.path),
            "kind": "export" if self.exported else "run",
            "checkpoint": None if self.exported else self.model.checkpoint,
            "n_best": self.has_n_best,
        }

    def run(self, key, sentences: list[str]) -> list:
        """Translations (a str per sentence), or n-best lists ([(text, score)]) when the key's
        n-best is above 1."""
        beam_size, n_best = key
        if n_best > 1:
            return self.model.n_best(sentences, beam_size, n_best)
        return self.model.translate(sentences, beam_size)


class SpeechService:
    """A speech run directory or export, ready to serve.

    Args:
        path: the run directory or exported SavedModel.
    """

    kind = "transcribe"

    def __init__(self, path):
        from pipelines.tasks.asr.long_transcription import segment_config
        from pipelines.tasks.asr.task import Recognizer
        from seq2seq.speech.lm_decoding import resolve_lm

        self.path = Path(path)
        self.exported = is_export(path)
        self.model = ExportedRecognizer(path) if self.exported else Recognizer(path)
        self.config = self.model.config
        self.rate = self.config.features.sample_rate
        self.segmenting = segment_config(self.config)
        self.lm = None if self.exported else resolve_lm(path, self.config.decode, "auto")
        self.decoders = {}

    def info(self) -> dict:
        return {
            "path": str(self.path),
            "kind": "export" if self.exported else "run",
            "lm": None if self.lm is None else self.lm["lm"],
            "sample_rate": self.rate,
        }

    def read(self, data: bytes, max_seconds: float):
        """(duration in seconds, segments) of an uploaded recording; AudioError when it cannot
        be read or is longer than `max_seconds`."""
        try:
            declared = sf.info(io.BytesIO(data)).duration
        except Exception as err:  # libsndfile raises several types
            reason = re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the upload", str(err))
            raise AudioError(f"upload: cannot read audio ({reason})") from None
        if declared > max_seconds:
            raise TooLong(f"upload: {declared:.1f} s of audio; the limit is {max_seconds:g} s")
        blocks = read_blocks(io.BytesIO(data), self.rate, self.segmenting.block_seconds, "upload")
        counted, total = [], 0
        for block in blocks:  # the declared length of some formats is a guess: count too
            total += len(block)
            if total > max_seconds * self.rate:
                raise TooLong(f"upload: more than {max_seconds:g} s of audio")
            counted.append(block)
        pieces = list(segments(iter(counted), self.rate, self.segmenting))
        return total / self.rate, pieces

    def decoder(self, beam_size: int):
        """None for greedy; pyctcdecode's beam search (with the run's LM when it has one)."""
        from seq2seq.speech.lm_decoding import LMDecoder, make_decoder

        if beam_size <= 1:
            return None
        if beam_size not in self.decoders:
            code = self.config.data.language
            made = make_decoder(self.lm, beam_size, code)
            self.decoders[beam_size] = made or LMDecoder(None, beam_size=beam_size, language=code)
        return self.decoders[beam_size]

    def run(self, beam_size, pieces) -> list:
        """(words, n-best or None) of each segment, decoded in groups of about
        `decode.batch_frames` frames."""
        from pipelines.tasks.asr.long_transcription import batch_groups, decode_pieces

        beam = self.decoder(beam_size)
        results = []
        for group in batch_groups(pieces, self.config):
            results += decode_pieces(self.model, group, beam)
        return results

    def transcript(self, duration, pieces, decoded, beam_size) -> dict:
        """The JSON transcript (as `transcribe --format json`) of an upload's decoded pieces."""
        from pipelines.tasks.asr.long_transcription import Transcript, add_segment, settings

        results = []
        for piece, (words, hypotheses) in zip(pieces, decoded, strict=True):
            add_segment(results, piece, words, hypotheses)
        used = settings(self.config, self.decoder(beam_size), self.segmenting)
        return Transcript("upload", duration, results, used).as_dict()


class TooLong(AudioError):
    """Audio longer than the server accepts."""
