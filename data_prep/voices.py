"""Who speaks in which split: the held-out speaker design of the synthetic speech corpus.

A speaker is a person whose recordings built a voice, or one espeak-ng voice variant. Each is
heard in one split only (`SPEAKERS`), so WER on dev, test and test_voices measures
generalization to unseen speakers; `data_prep.synth_speech` speaks the corpus,
`data_prep.engines` the utterances.
"""

import logging
from dataclasses import dataclass

from data_prep import engines as tts

logger = logging.getLogger(__name__)

# espeak-ng voice variants (espeak-ng-data/voices/!v), disjoint per split.
VARIANTS = {
    "train": (
        "m1 m2 m3 m4 m5 m6 f1 f2 f3 klatt klatt2 klatt3 Alex Annie adam david edward john "
        "linda max norbert paul robert steph travis victor Lee"
    ).split(),
    "dev": ["m8", "klatt5", "shelby", "Mike"],
    "test": ["m7", "f4", "klatt4", "belinda", "quincy", "Michael"],
}


@dataclass(frozen=True)
class Source:
    """One speaker of a split: `engine` speaking `voices` (espeak-ng: its variants); the
    person is `speaker` (empty for espeak-ng: each variant is its own speaker)."""

    split: str
    name: str
    engine: str
    voices: tuple[str, ...]
    speaker: str


# The held-out design. flite slt and festival's slt HTS are one person (CMU ARCTIC slt);
# festival kal_diphone and flite kal/kal16 are one person (kal), heard only in test_festival.
# RHVoice's alan and slt are ARCTIC awb and slt, heard in train: they are no test voices.
# fmt: off
SPEAKERS = (
    #      split            name            engine       voices                      speaker
    Source("train",         "espeak",       "espeak-ng", tuple(VARIANTS["train"]),   ""),
    Source("train",         "flite-awb",    "flite",     ("awb",),                   "awb"),
    Source("train",         "flite-slt",    "flite",     ("slt",),                   "slt"),
    Source("train",         "festival-slt", "festival",  ("cmu_us_slt_arctic_hts",), "slt"),
    Source("train",         "piper-joe",    "piper",     (tts.PIPER_VOICE,),         "joe"),
    Source("dev",           "espeak",       "espeak-ng", tuple(VARIANTS["dev"]),     ""),
    Source("dev",           "flite-rms",    "flite",     ("rms",),                   "rms"),
    Source("test",          "espeak",       "espeak-ng", tuple(VARIANTS["test"]),    ""),
    Source("test_voices",   "festival-ked", "festival",  ("ked_diphone",),           "ked"),
    Source("test_voices",   "mbrola-us1",   "mbrola",    ("mb-us1",),                "mbrola-us1"),
    Source("test_voices",   "mbrola-us2",   "mbrola",    ("mb-us2",),                "mbrola-us2"),
    Source("test_voices",   "mbrola-us3",   "mbrola",    ("mb-us3",),                "mbrola-us3"),
    Source("test_voices",   "mbrola-en1",   "mbrola",    ("mb-en1",),                "mbrola-en1"),
    Source("test_voices",   "pico-en-US",   "pico",      ("en-US",),                 "pico-en-US"),
    Source("test_voices",   "pico-en-GB",   "pico",      ("en-GB",),                 "pico-en-GB"),
    Source("test_voices",   "rhvoice-bdl",  "rhvoice",   ("bdl",),                   "bdl"),
    Source("test_voices",   "rhvoice-clb",  "rhvoice",   ("clb",),                   "clb"),
    Source("test_festival", "festival-kal", "festival",  ("kal_diphone",),           "kal"),
)
# fmt: on
# Shares of the training utterances (renormalized over the engines in use). CPU seconds per
# utterance measured on 2 workers: espeak-ng 0.02, flite 0.06, festival slt HTS 0.58, festival
# ked/kal 0.4, piper 0.48 (its load included). The default corpus (12,000 train, 300 dev, 500
# each test split) then takes about 2,800 CPU seconds: 23 minutes on 2 free cores.
TRAIN_SHARES = {
    "espeak": 0.37,
    "flite-awb": 0.16,
    "flite-slt": 0.14,
    "festival-slt": 0.13,
    "piper-joe": 0.20,
}
CORE_ENGINES = ("espeak-ng", "flite", "festival", "piper")
OPTIONAL_ENGINES = ("mbrola", "pico", "rhvoice")
# Splits spoken exactly as the first espeak-ng/festival corpus (same draws, same file names).
FIXED_SPLITS = ("test", "test_festival")


def parse_shares(text: str) -> dict[str, float]:
    """`espeak=0.4,flite-awb=0.17,...` -> {name: share}; names are SPEAKERS' train names."""
    known = [s.name for s in SPEAKERS if s.split == "train"]
    shares = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        name, _, value = item.partition("=")
        if name not in known:
            raise ValueError(f"--engine-shares: unknown {name!r} (known: {', '.join(known)})")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"--engine-shares: {item!r} is not NAME=NUMBER") from None
        if shares[name] < 0:
            raise ValueError(f"--engine-shares: {item!r} is negative")
    return shares


def sources(split: str, engines, shares: dict | None = None) -> list[tuple[Source, float]]:
    """The speakers of a split among `engines`, with their shares: train's from `shares`
    (default TRAIN_SHARES), the others' equal. The fixed splits ignore `engines`. Optional
    engines' voices that are not installed are left out; a missing core engine is an error."""
    shares = TRAIN_SHARES if shares is None else shares
    chosen = []
    for source in SPEAKERS:
        if source.split != split or (split not in FIXED_SPLITS and source.engine not in engines):
            continue
        why = tts.missing(source.engine, source.voices[0] if len(source.voices) == 1 else None)
        if why and source.engine in OPTIONAL_ENGINES:
            logger.info("%s: %s, skipped", source.name, why)
        elif why:
            raise FileNotFoundError(f"{split} needs {why}")
        elif split != "train" or shares.get(source.name, 0) > 0:
            chosen.append((source, shares.get(source.name, 0) if split == "train" else 1.0))
    return chosen


def allocate(count: int, weights: list[float]) -> list[int]:
    """Splits `count` in proportion to `weights` (largest remainders)."""
    exact = [count * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: count - sum(counts)]:
        counts[i] += 1
    return counts


def engine_list(text: str | None) -> tuple[str, ...]:
    """--engines: the named engines (each must be installed), or by default the core engines
    and whichever optional ones are installed (one line says how to add the others)."""
    aliases = {"espeak": "espeak-ng"}
    if text is None:
        absent = [e for e in OPTIONAL_ENGINES if tts.missing(e)]
        if absent:
            hints = "; ".join(f"{e}: {tts.INSTALL[e]}" for e in absent)
            logger.info("optional test voices not installed (%s)", hints)
        return CORE_ENGINES + tuple(e for e in OPTIONAL_ENGINES if e not in absent)
    names = tuple(aliases.get(n.strip(), n.strip()) for n in text.split(",") if n.strip())
    for name in names:
        if name not in tts.ENGINES:
            raise ValueError(f"--engines: unknown {name!r} (known: {', '.join(tts.ENGINES)})")
        if why := tts.missing(name):
            raise FileNotFoundError(why)
    return names


def speaker_table() -> str:
    lines = [f"  {'split':<14}{'name':<15}{'engine':<10}speaker (voice)"]
    for s in SPEAKERS:
        who = s.speaker or "each espeak-ng variant"
        lines.append(f"  {s.split:<14}{s.name:<15}{s.engine:<10}{who} ({' '.join(s.voices)})")
    return "\n".join(lines)
