"""A `SpeechTranslation` written as text, TSV, JSON, SRT or WebVTT (`speech_translate
--format`).

- text: `path<TAB>translation`, one line per recording;
- tsv: one segment a line: path, start, end (seconds), confidence, transcript, translation,
  with a header;
- json: one object per recording: the transcript, its confidence, the translation, the
  decoding settings and per segment its times, transcript, confidence and translation;
- srt / vtt: the translation as subtitles on the speech's times. Each segment's translation
  fills cues of at most `MAX_LINES` lines of `MAX_CHARS` characters
  (`pipelines.tasks.asr.transcript_formats`); a segment with several cues shares its spoken
  time between them in proportion to their characters, and a cue longer than `MAX_SECONDS`
  is split in two (while it has words to split).
"""

import json

from pipelines.tasks.asr.transcript_formats import (
    MAX_LINES,
    MAX_SECONDS,
    subtitle_lines,
    subtitles,
)

FORMATS = ("text", "tsv", "json", "srt", "vtt")
FORMAT_HELP = (
    "text  path<TAB>translation a recording",
    "tsv   a segment a line: path, start, end, confidence, transcript, translation",
    "json  a recording a line: transcript, confidence, translation, settings, segments",
    "srt   SubRip subtitles of the translation on the speech's times",
    "vtt   WebVTT subtitles (the same cues)",
)
SUFFIXES = {"text": ".txt", "tsv": ".tsv", "json": ".json", "srt": ".srt", "vtt": ".vtt"}
TSV_HEADER = "path\tstart\tend\tconfidence\ttranscript\ttranslation\n"


def render(result, kind: str) -> str:
    """The text of a `SpeechTranslation` in format `kind` (one of FORMATS)."""
    if kind == "text":
        return f"{result.source}\t{result.text}\n"
    if kind == "tsv":
        return "".join(
            f"{result.source}\t{s['start']:.3f}\t{s['end']:.3f}\t"
            f"{'' if s['confidence'] is None else format(s['confidence'], '.4f')}\t"
            f"{s['text']}\t{s['translation']}\n"
            for s in result.segments()
            if s["text"]
        )
    if kind == "json":
        return json.dumps(result.as_dict(), ensure_ascii=False) + "\n"
    if kind in ("srt", "vtt"):
        return subtitles(cues(result), kind)
    raise ValueError(f"format {kind!r}: expected one of {FORMATS}")


def cues(result) -> list[tuple[float, float, str]]:
    """Subtitle cues (start, end, text with line breaks) of the translation: per segment, from
    its first word's start to its last word's end."""
    out = []
    for segment, translation in zip(result.transcript.segments, result.translations, strict=True):
        words = translation.split()
        if not words or not segment["words"]:
            continue
        start, end = segment["words"][0].start, segment["words"][-1].end
        groups = _groups(words)
        total = sum(len(" ".join(g)) for g in groups)
        while True:  # split cues that would stay up too long
            seconds = [(end - start) * len(" ".join(g)) / total for g in groups]
            long = [
                i
                for i, (g, s) in enumerate(zip(groups, seconds, strict=True))
                if s > MAX_SECONDS and len(g) > 1
            ]
            if not long:
                break
            i = long[0]
            half = len(groups[i]) // 2
            groups[i : i + 1] = [groups[i][:half], groups[i][half:]]
            total = sum(len(" ".join(g)) for g in groups)
        clock = start
        for group, length in zip(groups, seconds, strict=True):
            out.append((clock, clock + length, "\n".join(subtitle_lines(group))))
            clock += length
    return out


def _groups(words: list[str]) -> list[list[str]]:
    """Words into cues of at most MAX_LINES subtitle lines."""
    groups = [[]]
    for word in words:
        if groups[-1] and len(subtitle_lines(groups[-1] + [word])) > MAX_LINES:
            groups.append([])
        groups[-1].append(word)
    return groups
