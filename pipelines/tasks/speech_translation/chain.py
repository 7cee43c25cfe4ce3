"""Spanish speech in, English text out: a recognizer and a translator chained.

`translate_recording` transcribes a recording of any length as `transcribe` does
(`pipelines.tasks.asr.long_transcription`: segments at pauses, batched decoding, word times and
confidences), then translates each segment's transcript, so every English sentence keeps the
times of the speech it came from (subtitles cue on them). The recognizer writes what its
alphabet holds (lower case, no punctuation); a translator trained with `data.asr_style`
(`pipelines.tasks.translation.config`) has seen source sentences written that way.
"""

import dataclasses
from pathlib import Path

from pipelines.tasks.asr.long_transcription import Transcript, segment_config, transcribe_long


@dataclasses.dataclass
class SpeechTranslation:
    """One recording's transcript (`Transcript`) and the translation of each of its segments
    (empty where the segment's transcript is)."""

    transcript: Transcript
    translations: list[str]

    @property
    def source(self) -> str:
        return self.transcript.source

    @property
    def text(self) -> str:
        """The whole translation."""
        return " ".join(t for t in self.translations if t)

    def segments(self) -> list[dict]:
        """{start, end, text (the transcript), confidence, translation} per segment."""
        return self.as_dict()["segments"]

    def as_dict(self) -> dict:
        return translated_json(self.transcript.as_dict(), self.translations)


def translated_json(transcript: dict, translations: list[str]) -> dict:
    """`speech_translate --format json`'s object (and /v1/speech-translate's) from a transcript
    as `Transcript.as_dict` writes it and the translation of each of its segments."""
    return {
        "source": transcript["source"],
        "duration": transcript["duration"],
        "transcript": transcript["text"],
        "confidence": transcript["confidence"],
        "translation": " ".join(t for t in translations if t),
        "settings": transcript["settings"],
        "segments": [
            {k: row[k] for k in ("start", "end", "text", "confidence")} | {"translation": t}
            for row, t in zip(transcript["segments"], translations, strict=True)
        ],
    }


def load_translator(translate_run, checkpoint: str = "auto"):
    """The `Translator` of a translation run, or the `ExportedTranslator` of an export. Its
    source language must be the recognizer's (`data.language: es` for the Spanish -> English
    translator): nothing in a run records the language of a translation corpus."""
    from pipelines.export import ExportedTranslator, is_export
    from pipelines.tasks.translation.translator import Translator

    if not Path(translate_run).is_dir():
        raise FileNotFoundError(f"{translate_run}: no such translation run or export")
    if is_export(translate_run):
        return ExportedTranslator(translate_run)
    return Translator(translate_run, checkpoint)


def translate_recording(
    recognizer,
    translator,
    source,
    beam=None,
    translate_beam: int = 1,
    segmenting=None,
    progress=None,
    name: str | None = None,
) -> SpeechTranslation:
    """Transcribes `source` (a path, "-" for audio bytes on stdin, or a binary file object)
    with `recognizer` (`beam`: its pyctcdecode search with or without a word LM, None: greedy)
    and translates each segment with `translator` (beam size `translate_beam`)."""
    segmenting = segmenting or segment_config(recognizer.config)
    transcript = transcribe_long(recognizer, source, beam, 1, segmenting, progress, name)
    return SpeechTranslation(transcript, translate_segments(translator, transcript, translate_beam))


def translate_segments(translator, transcript: Transcript, beam_size: int = 1) -> list[str]:
    """The translation of each segment's text ("" for a segment with none)."""
    texts = [s["text"] for s in transcript.segments]
    spoken = [i for i, text in enumerate(texts) if text.strip()]
    out = [""] * len(texts)
    if spoken:
        translated = translator.translate([texts[i] for i in spoken], beam_size)
        for i, text in zip(spoken, translated, strict=True):
            out[i] = text
    return out
