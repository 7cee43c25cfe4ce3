"""The `transcribe` command of `pipelines.asr`: recordings of any length in; text, word TSV,
JSON or subtitles out (`long_transcription`, `transcript_formats` of this folder)."""

import contextlib
import sys
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from data_prep.speech.audio import AudioError
from pipelines.tasks.asr.transcript_formats import SUFFIXES, TSV_HEADER, render
from seq2seq.files import write_text

PROGRESS_SECONDS = 120  # recordings at least this long show a progress bar


def transcribe_command(args) -> int:
    from pipelines.tasks.asr.lm_commands import transcriber
    from pipelines.tasks.asr.long_transcription import segment_config, transcribe_long

    sources = recording_sources(args)
    if args.n_best < 1:
        raise ValueError(f"--n-best {args.n_best}: expected at least 1")
    model, beam = transcriber(args)
    if args.n_best > 1 and beam is None:
        raise ValueError("--n-best needs beam search: --beam-size 2 or more, or an LM")
    segmenting = segment_config(
        model.config, max_seconds=args.max_segment_seconds, min_pause=args.min_pause
    )

    def transcribe(source, bar):
        return transcribe_long(model, source, beam, args.n_best, segmenting, bar)

    return write_recordings(
        args,
        sources,
        transcribe,
        lambda transcript: render(transcript, args.format, args.n_best),
        SUFFIXES[args.format],
        TSV_HEADER if args.format == "tsv" else "",
    )


def add_recording_options(parser, longest: str):
    """`--out-dir`, `--max-segment-seconds` (its default described by `longest`) and
    `--min-pause`: what `transcribe` and `speech_translate` share."""
    parser.add_argument(
        "--out-dir",
        default=None,
        help="write DIR/<name>.<format> per recording instead of printing (needed for srt "
        "and vtt with several recordings)",
    )
    parser.add_argument(
        "--max-segment-seconds", type=float, default=None, help=f"longest segment ({longest})"
    )
    parser.add_argument(
        "--min-pause", type=float, default=0.3, help="seconds of non-speech that end a segment"
    )


def add_audio_argument(parser):
    parser.add_argument(
        "audio",
        nargs="*",
        help="audio files; - reads one recording's WAV/FLAC bytes from stdin (default: paths "
        "from stdin, one a line)",
    )


def recording_sources(args) -> list[str]:
    """The recordings to read: the audio arguments, else paths on stdin one a line."""
    sources = args.audio or [line.strip() for line in sys.stdin if line.strip()]
    if not sources:
        raise ValueError("no audio given: name files, or - for audio bytes on stdin")
    if "-" in sources and len(sources) > 1:
        raise ValueError("- (audio on stdin) cannot be combined with other recordings")
    if args.format in ("srt", "vtt") and len(sources) > 1 and not args.out_dir:
        raise ValueError(f"--format {args.format} with several recordings needs --out-dir")
    return sources


def write_recordings(args, sources, process, text_of, suffix: str, header: str) -> int:
    """`process(source, progress bar or None)` for each recording, its `text_of(result)` printed
    (after `header` once) or written to `args.out_dir/<name><suffix>` (each file with
    `header`); an unreadable recording is reported and the others go on. Returns the exit
    status: 1 when a recording could not be read."""
    if header and not args.out_dir:
        sys.stdout.write(header)
    errors = 0
    for source in sources:
        try:
            with _progress(source) as bar:
                result = process(source, bar)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            errors += 1
            continue
        text = text_of(result)
        if args.out_dir:
            name = "stdin" if source == "-" else Path(source).stem
            path = write_text(Path(args.out_dir) / f"{name}{suffix}", header + text)
            print(f"{result.source}: {path}", file=sys.stderr)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if errors:
        print(f"{errors} of {len(sources)} files could not be read", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _progress(source):
    """A bar in seconds of audio for a long file (none for stdin or short files)."""
    try:
        seconds = sf.info(source).duration if source != "-" else 0.0
    except Exception:  # unreadable: transcribe_long reports it
        seconds = 0.0
    if seconds < PROGRESS_SECONDS:
        yield None
        return
    with tqdm(total=round(seconds, 2), unit="s", desc=Path(source).name, leave=False) as bar:
        yield bar
