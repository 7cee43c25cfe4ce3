"""A `Transcript` written as text, TSV, JSON, SRT or WebVTT (`transcribe --format`).

- text: `path<TAB>text`, one line per recording (with `--n-best K`: `path<TAB>segment
  start<TAB>rank<TAB>score<TAB>text`, K lines per segment);
- tsv: one word per line, `path start end confidence word` (seconds), with a header;
- json: one object per recording: text, confidence, decoding settings, segments with their
  words, times, confidences (and n-best lists);
- srt / vtt: subtitles. A cue holds at most `MAX_LINES` lines of at most `MAX_CHARS`
  characters (the common broadcast limits: 42 x 2) and lasts at most `MAX_SECONDS`; a pause
  of `BREAK_SECONDS` or a segment boundary starts a new cue. Cues run from their first
  word's start to their last word's end, at least `MIN_SECONDS` when the next cue leaves room.
"""

import json

FORMATS = ("text", "tsv", "json", "srt", "vtt")
FORMAT_HELP = (
    "text  path<TAB>text a recording (--n-best K: path, segment start, rank, score, text)",
    "tsv   a word a line: path, start, end (seconds), confidence, word",
    "json  a recording a line: text, confidence, settings, segments, words, n-best",
    "srt   SubRip subtitles (42 characters x 2 lines a cue at most)",
    "vtt   WebVTT subtitles (the same cues)",
)
SUFFIXES = {"text": ".txt", "tsv": ".tsv", "json": ".json", "srt": ".srt", "vtt": ".vtt"}
MAX_CHARS = 42
MAX_LINES = 2
MAX_SECONDS = 7.0
MIN_SECONDS = 0.8
BREAK_SECONDS = 1.0
TSV_HEADER = "path\tstart\tend\tconfidence\tword\n"


def render(transcript, kind: str, n_best: int = 1) -> str:
    """The text of `transcript` in format `kind` (one of FORMATS)."""
    if kind == "text":
        if n_best > 1:
            return "".join(
                f"{transcript.source}\t{s['start']:.2f}\t{rank}\t{h['score']}\t{h['text']}\n"
                for s in transcript.segments
                for rank, h in enumerate(s.get("n_best", []), 1)
            )
        return f"{transcript.source}\t{transcript.text}\n"
    if kind == "tsv":
        return "".join(
            f"{transcript.source}\t{w.start:.3f}\t{w.end:.3f}\t{w.confidence:.4f}\t{w.word}\n"
            for w in transcript.words
        )
    if kind == "json":
        return json.dumps(transcript.as_dict(), ensure_ascii=False) + "\n"
    if kind in ("srt", "vtt"):
        return subtitles(cues(transcript), kind)
    raise ValueError(f"format {kind!r}: expected one of {FORMATS}")


def subtitles(cue_list, kind: str) -> str:
    """SubRip (`kind` srt) or WebVTT (vtt) text of cues (start, end, text)."""
    if kind == "srt":
        return "\n".join(
            f"{i}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
            for i, (start, end, text) in enumerate(cue_list, 1)
        )
    return "WEBVTT\n\n" + "\n".join(
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n" for start, end, text in cue_list
    )


def cues(transcript) -> list[tuple[float, float, str]]:
    """Subtitle cues (start, end, text with line breaks) of a transcript's words."""
    groups = []
    for segment in transcript.segments:
        current = []
        for word in segment["words"]:
            if current and not _fits(current, word):
                groups.append(current)
                current = []
            current.append(word)
        if current:
            groups.append(current)
    out = []
    for i, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        following = groups[i + 1][0].start if i + 1 < len(groups) else None
        end = max(end, start + MIN_SECONDS)
        if following is not None:
            end = max(min(end, following), group[-1].end)
        out.append((start, end, "\n".join(subtitle_lines([w.word for w in group]))))
    return out


def _fits(words, word) -> bool:
    if word.start - words[-1].end >= BREAK_SECONDS or word.end - words[0].start > MAX_SECONDS:
        return False
    return len(subtitle_lines([w.word for w in words] + [word.word])) <= MAX_LINES


def subtitle_lines(words) -> list[str]:
    """Words filled greedily into lines of at most MAX_CHARS characters (a longer single word
    gets its own line)."""
    lines = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= MAX_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
