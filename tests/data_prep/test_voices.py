import pytest

from data_prep.voices import (
    FIXED_SPLITS,
    SPEAKERS,
    TRAIN_SHARES,
    VARIANTS,
    allocate,
    parse_shares,
    sources,
)


def test_voice_variants_are_disjoint_across_splits():
    train, dev, test = (set(VARIANTS[s]) for s in ("train", "dev", "test"))
    assert not (train & test) and not (train & dev) and not (dev & test)


def test_each_person_is_heard_in_one_split_only():
    splits_of = {}
    for source in SPEAKERS:
        for person in [source.speaker] if source.speaker else source.voices:
            splits_of.setdefault(person, set()).add(source.split)
    assert all(len(splits) == 1 for splits in splits_of.values()), splits_of
    assert splits_of["kal"] == {"test_festival"} and splits_of["slt"] == {"train"}
    assert splits_of["ked"] == {"test_voices"} and splits_of["rms"] == {"dev"}
    # RHVoice's alan and slt are the ARCTIC awb and slt of training
    assert not {v for s in SPEAKERS if s.engine == "rhvoice" for v in s.voices} & {"alan", "slt"}


def test_shares_parse_and_allocate():
    assert parse_shares("espeak=0.5, piper-joe=0.5") == {"espeak": 0.5, "piper-joe": 0.5}
    with pytest.raises(ValueError, match="unknown 'festival-kal'"):
        parse_shares("festival-kal=1")  # a held-out person can not be given a training share
    with pytest.raises(ValueError, match="negative"):
        parse_shares("espeak=-1")
    counts = allocate(12000, list(TRAIN_SHARES.values()))
    assert sum(counts) == 12000 and counts[-1] == 2400
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
