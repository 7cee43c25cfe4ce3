import pytest

from data_prep.corpora.neural_voices import KOKORO_STYLES
from data_prep.corpora.voices import (
    FIXED_SPLITS,
    KOKORO_TRAIN,
    SPEAKERS,
    TRAIN_SHARES,
    VARIANTS,
    allocate,
    parse_shares,
    persons,
    sources,
    speaker_of,
)


def test_voice_variants_are_disjoint_across_splits():
    train, dev, test = (set(VARIANTS[s]) for s in ("train", "dev", "test"))
    assert not (train & test) and not (train & dev) and not (dev & test)


def _splits_of(table) -> dict:
    """{person: the splits whose speakers include them} of a speaker table."""
    splits_of = {}
    for source in table:
        for person in source.persons():
            splits_of.setdefault(person, set()).add(source.split)
    return splits_of


def test_each_person_is_heard_in_one_split_only():
    splits_of = _splits_of(SPEAKERS)
    assert all(len(splits) == 1 for splits in splits_of.values()), splits_of
    assert splits_of["kal"] == {"test_festival"} and splits_of["slt"] == {"train"}
    assert splits_of["ked"] == {"test_voices"} and splits_of["rms"] == {"dev"}
    # hibari's derived voices are one person, Kokoro's af_heart; a blend is each of its styles
    assert splits_of["kokoro:af_heart"] == {"train"}
    assert splits_of["kokoro:jf_nezumi"] == {"test_voices"}
    trained = {
        p for s in SPEAKERS if s.split == "train" and s.engine == "kokoro" for p in s.persons()
    }
    assert trained == {f"kokoro:{style}" for style in KOKORO_STYLES} - {"kokoro:jf_nezumi"}
    # RHVoice's alan and slt are the ARCTIC awb and slt of training
    assert not {v for s in SPEAKERS if s.engine == "rhvoice" for v in s.voices} & {"alan", "slt"}


def test_shares_parse_and_allocate():
    assert parse_shares("espeak=0.5, piper-joe=0.5") == {"espeak": 0.5, "piper-joe": 0.5}
    with pytest.raises(ValueError, match="unknown 'festival-kal'"):
        parse_shares("festival-kal=1")  # a held-out person can not be given a training share
    with pytest.raises(ValueError, match="negative"):
        parse_shares("espeak=-1")
    counts = dict(zip(TRAIN_SHARES, allocate(12000, list(TRAIN_SHARES.values())), strict=True))
    assert sum(counts.values()) == 12000 and counts["kokoro"] == 480
    # espeak-ng is a minority of the training utterances, the neural voices the most
    neural = counts["hibari"] + counts["kokoro"] + counts["piper-joe"]
    assert counts["espeak"] < 12000 / 4 and neural > 12000 / 2
    assert allocate(7, [1, 1]) in ([4, 3], [3, 4]) and sum(allocate(5, [0.2, 0.3, 0.5])) == 5


def test_sources_follow_the_engines_and_shares():
    espeak_only = sources("train", ("espeak-ng",))
    assert [(s.name, share) for s, share in espeak_only] == [("espeak", TRAIN_SHARES["espeak"])]
    chosen = sources("train", ("espeak-ng", "flite"), {"espeak": 1, "flite-awb": 0})
    assert [s.name for s, _ in chosen] == ["espeak"]
    assert [s.name for s, _ in sources("dev", ("espeak-ng", "flite"))] == ["espeak", "flite-rms"]
    for split in FIXED_SPLITS:  # the baselines keep their speakers whatever the engines
        assert len(sources(split, ())) == 1
    assert sources("test_voices", ("espeak-ng",)) == []
    chosen = sources("test_voices", ("festival", "kokoro"))
    assert [(s.name, share) for s, share in chosen] == [("festival-ked", 1), ("kokoro-nezumi", 1)]


def test_speakers_of_voices_and_their_persons():
    by_name = {(s.split, s.name): s for s in SPEAKERS}
    kokoro, hibari = by_name["train", "kokoro"], by_name["train", "hibari"]
    assert speaker_of(kokoro, KOKORO_TRAIN[-1]) == "kokoro:jf_alpha+jf_gongitsune+jm_kumo"
    assert persons("kokoro:jf_alpha+jm_kumo") == {"kokoro:jf_alpha", "kokoro:jm_kumo"}
    assert {speaker_of(hibari, v) for v in hibari.voices} == {"kokoro:af_heart"}
    assert speaker_of(by_name["dev", "espeak"], "en-gb+m8") == "espeak-ng+m8"
    assert persons("espeak-ng+m8") == {"espeak-ng+m8"} and persons("ked") == {"ked"}


def test_spanish_speakers_are_held_out_by_person_and_speak_spanish():
    from data_prep.corpora.voices import SPANISH_ACCENTS, SPANISH_SPEAKERS, speakers

    splits_of = _splits_of(SPANISH_SPEAKERS)
    assert all(len(splits) == 1 for splits in splits_of.values()), splits_of
    assert splits_of["kokoro:jf_nezumi"] == {"test_voices"}
    espeak = [s for s in SPANISH_SPEAKERS if s.engine == "espeak-ng"]
    assert {s.split for s in espeak} == {"train", "dev", "test"}
    assert all(s.accents == SPANISH_ACCENTS == ("es", "es-419") for s in espeak)
    assert speakers("es")[1] == {"espeak": 0.97, "kokoro": 0.03}
    assert parse_shares("kokoro=0", "es") == {"kokoro": 0.0}
    with pytest.raises(ValueError, match="unknown 'hibari'"):
        parse_shares("hibari=1", "es")  # hibari speaks English only
    with pytest.raises(ValueError, match="language 'fr'"):
        speakers("fr")
