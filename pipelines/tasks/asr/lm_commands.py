"""The word language model's part of the speech CLI (`pipelines.asr`): the `lm` and `tune-lm`
commands and the `--lm --alpha --beta --hotwords` options of evaluate and transcribe."""

LM_NOTE = (
    "The word LM is a Python-side option (seq2seq.speech.lm_decoding, pyctcdecode + KenLM): an "
    "exported SavedModel's in-graph beam search has no LM."
)


def add_lm_commands(commands):
    lm = commands.add_parser(
        "lm",
        help="build a word n-gram language model for beam search",
        description="Estimate an interpolated modified Kneser-Ney word n-gram model (ARPA) from "
        "text normalized like the labels, by default the run's training transcripts "
        "(data.train); never from the run's dev or test text. Writes RUN/lm/lm.arpa and "
        "RUN/lm/lm.json, which evaluate and transcribe then use. " + LM_NOTE,
    )
    lm.add_argument("--run-dir", required=True, help="a run directory (its config.yaml)")
    lm.add_argument(
        "--text",
        nargs="+",
        default=[],
        metavar="FILE",
        help="JSONL manifests (their text) or text files, one sentence a line "
        "(default: the run's data.train manifest)",
    )
    lm.add_argument("--order", type=int, default=3, choices=[2, 3, 4, 5], help="n (default 3)")
    lm.add_argument(
        "--general-words",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="interpolate the model with the unigram frequencies of the language's 30,000 most "
        "frequent general words (wordfreq) at this weight, between 0 and 1, so that everyday "
        "words outside the text get a probability (default 0: the text's words only)",
    )
    lm.add_argument("--out", default=None, help="ARPA file to write (default RUN/lm/lm.arpa)")
    lm.add_argument(
        "--lmplz",
        default=None,
        metavar="PATH",
        help="estimate with a compiled KenLM lmplz instead (faster on large text)",
    )

    tune = commands.add_parser(
        "tune-lm",
        help="choose the LM weight alpha and word bonus beta on the dev set",
        description="Grid search of alpha x beta on a dev manifest (never the test set): the "
        "network runs once, the LM beam search once per pair. Writes the best pair to "
        "RUN/lm/lm.json, the default of evaluate and transcribe from then on. " + LM_NOTE,
    )
    tune.add_argument("--run-dir", required=True, help="a trained run directory")
    tune.add_argument(
        "--manifest",
        nargs="+",
        default=None,
        help="dev manifests, their utterances pooled (default: the config's data.dev)",
    )
    tune.add_argument("--lm", default=None, help="an ARPA file (default: the run's, RUN/lm/)")
    tune.add_argument("--alphas", type=float, nargs="+", default=None, help="LM weights to try")
    tune.add_argument("--betas", type=float, nargs="+", default=None, help="word bonuses to try")
    tune.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help="the beam width of the search with the LM (default: decode.lm_beam_size, else "
        "decode.beam_size)",
    )
    tune.add_argument("--limit", type=int, default=None, help="tune on the first N utterances")


def add_lm_options(parser):
    """`--lm --alpha --beta --hotwords` for evaluate and transcribe."""
    group = parser.add_argument_group("word language model", LM_NOTE)
    group.add_argument(
        "--lm",
        default=None,
        help="auto (the run's RUN/lm/ if built), none, or an ARPA file (default: decode.lm)",
    )
    group.add_argument(
        "--alpha", type=float, default=None, help="LM weight (default: tuned, else 0.5)"
    )
    group.add_argument(
        "--beta", type=float, default=None, help="word insertion bonus (default: tuned, else 1)"
    )
    group.add_argument(
        "--hotwords",
        type=lambda text: [w.strip() for w in text.split(",") if w.strip()],
        default=None,
        metavar="WORD,...",
        help="comma-separated words or phrases to favour (default: decode.hotwords)",
    )


def lm_weights(args) -> dict:
    return {"alpha": args.alpha, "beta": args.beta, "hotwords": args.hotwords}


def transcriber(args, run_dir=None):
    """(a `Recognizer` or an `ExportedRecognizer`, an `LMDecoder` or None) of `run_dir`
    (default `args.run_dir`) for transcribe: the word LM's search when the run has an LM (or
    --lm names one), else pyctcdecode's plain beam search for --beam-size > 1, else None
    (greedy)."""
    from pipelines.export import ExportedRecognizer, is_export
    from pipelines.tasks.asr.task import Recognizer
    from seq2seq.speech.lm_decoding import LMDecoder, make_decoder, resolve_lm

    run_dir = run_dir or args.run_dir
    if is_export(run_dir):
        if args.lm not in (None, "auto", "none"):
            raise ValueError(f"--lm needs a run directory: {run_dir} is an export. {LM_NOTE}")
        model, beam = ExportedRecognizer(run_dir), None
    else:
        model = Recognizer(run_dir)
        settings = resolve_lm(run_dir, model.config.decode, args.lm, **lm_weights(args))
        beam_size = args.beam_size or model.config.decode.lm_beam
        beam = make_decoder(settings, beam_size, model.config.data.language)
    if beam is None and (args.beam_size or 1) > 1:
        language = model.config.data.language
        beam = LMDecoder(None, beam_size=args.beam_size, language=language)
    return model, beam


def run_lm_command(args) -> int:
    from pipelines.tasks.asr import lm_tuning

    if args.command == "lm":
        summary = lm_tuning.build_run_lm(
            args.run_dir, args.text, args.order, args.out, args.lmplz, args.general_words
        )
        counts = ", ".join(f"{n} {i + 1}-grams" for i, n in enumerate(summary["ngrams"]))
        print(
            f"{summary['lm']}: {summary['sentences']} sentences, {summary['words']} words, {counts}"
        )
        if "general_words" in summary:
            mixed = summary["general_words"]
            print(f"interpolated with {mixed['words']} general words at weight {mixed['weight']:g}")
        for n in summary.get("fallback_discount_orders", []):
            print(f"order {n}: too little or too repetitive text, fallback discounts 0.5 1 1.5")
        leaks = {k: v for k, v in summary["held_out_sentences_in_text"].items() if v}
        if leaks:
            print(f"warning: dev/test sentences found verbatim in the LM text: {leaks}")
        return 0
    kwargs = {"alphas": args.alphas, "betas": args.betas}
    result = lm_tuning.tune_lm(
        args.run_dir,
        args.manifest,
        beam_size=args.beam_size,
        limit=args.limit,
        lm=args.lm,
        **{k: v for k, v in kwargs.items() if v},
    )
    best = result["best"]
    print(lm_tuning.grid_table(result["results"]))
    print(
        f"best on {result['manifest']} ({result['utterances']} utterances, beam "
        f"{result['beam_size']}): alpha {best['alpha']:g}, beta {best['beta']:g}, WER "
        f"{best['wer']:.2f}%, written to {args.run_dir}/lm/lm.json"
    )
    return 0
