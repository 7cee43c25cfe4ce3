"""Does an exported speech model transcribe like the run it came from?

    python -m benchmarks.export_parity --run-dir runs/asr_small --manifest data/speech/test.jsonl

Exports the run (tf.signal front end in the graph), transcribes every utterance of the
manifest from its audio file with greedy search both in-process (librosa features, as
`evaluate` does) and through the SavedModel, and prints one JSON object: how many transcripts
are identical, the corpus WER of each against the references, and the first differences.
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.export_parity", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--manifest", required=True)
    args = parser.parse_args(argv)

    from data_prep.speech.manifest import read_manifest
    from data_prep.speech.transcripts import normalize_transcript
    from pipelines.export import ExportedRecognizer, export_recognizer
    from pipelines.reports.evaluation import score_transcripts
    from pipelines.tasks.asr.task import Recognizer

    entries = read_manifest(args.manifest)
    paths = [e["audio_filepath"] for e in entries]
    references = [normalize_transcript(e["text"]) for e in entries]
    local, _ = Recognizer(args.run_dir).transcribe(paths)
    with tempfile.TemporaryDirectory() as tmp:
        exported, _ = ExportedRecognizer(
            export_recognizer(args.run_dir, Path(tmp) / "export")
        ).transcribe(paths)
    local, exported = [t for _, t in local], [t for _, t in exported]
    same = sum(a == b for a, b in zip(local, exported, strict=True))
    differences = [
        {"audio_filepath": p, "in_process": a, "exported": b}
        for p, a, b in zip(paths, local, exported, strict=True)
        if a != b
    ]
    print(
        json.dumps(
            {
                "run_dir": args.run_dir,
                "manifest": args.manifest,
                "utterances": len(paths),
                "identical_greedy_transcripts": same,
                "wer_in_process": score_transcripts(references, local)["wer"],
                "wer_exported": score_transcripts(references, exported)["wer"],
                "first_differences": differences[:5],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
