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
    from seq2seq.speech.lm_decoding import LMDecoder

    sources = args.audio or [line.strip() for line in sys.stdin if line.strip()]
    if not sources:
        raise ValueError("no audio given: name files, or - for audio bytes on stdin")
    if "-" in sources and len(sources) > 1:
        raise ValueError("- (audio on stdin) cannot be combined with other recordings")
    if args.format in ("srt", "vtt") and len(sources) > 1 and not args.out_dir:
        raise ValueError(f"--format {args.format} with several recordings needs --out-dir")
    if args.n_best < 1:
        raise ValueError(f"--n-best {args.n_best}: expected at least 1")
    model, beam = transcriber(args)
    if beam is None and (args.beam_size or 1) > 1:
        beam = LMDecoder(None, beam_size=args.beam_size)
    if args.n_best > 1 and beam is None:
        raise ValueError("--n-best needs beam search: --beam-size 2 or more, or an LM")
    segmenting = segment_config(
        model.config, max_seconds=args.max_segment_seconds, min_pause=args.min_pause
    )
    if args.format == "tsv" and not args.out_dir:
        sys.stdout.write(TSV_HEADER)
    errors = 0
    for source in sources:
        try:
            with _progress(source) as bar:
                transcript = transcribe_long(model, source, beam, args.n_best, segmenting, bar)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            errors += 1
            continue
        text = render(transcript, args.format, args.n_best)
        if args.out_dir:
            name = "stdin" if source == "-" else Path(source).stem
            header = TSV_HEADER if args.format == "tsv" else ""
            path = write_text(Path(args.out_dir) / f"{name}{SUFFIXES[args.format]}", header + text)
            print(f"{transcript.source}: {path}", file=sys.stderr)
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
