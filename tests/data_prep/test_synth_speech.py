import soundfile as sf

from data_prep.manifest import read_manifest
from data_prep.synth_speech import VARIANTS, split_utterances, synthesize


def test_split_utterances_keeps_every_word_within_the_limit():
    line = (
        "And he said to them, Go into all the world, and preach the good news to the whole "
        "creation; he who believes and is baptized will be saved, but he who disbelieves will "
        "be condemned."
    )
    utterances = split_utterances(line, max_words=10)
    assert " ".join(utterances).split() == line.split()
    assert all(len(u.split()) <= 10 for u in utterances)
    assert len(utterances) >= 3


def test_short_last_piece_joins_the_previous_utterance():
    assert split_utterances("One two three four five, six.", max_words=5) == [
        "One two three four five, six."
    ]


def test_voice_variants_are_disjoint_across_splits():
    train, dev, test = (set(VARIANTS[s]) for s in ("train", "dev", "test"))
    assert not (train & test) and not (train & dev) and not (dev & test)


def test_tiny_corpus_holds_test_voices_out(tiny_speech):
    manifests = {s: read_manifest(tiny_speech / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert [len(m) for m in manifests.values()] == [40, 6, 6]
    variants = {s: {e["voice"].split("+")[1] for e in m} for s, m in manifests.items()}
    assert variants["test"] <= set(VARIANTS["test"]) and not variants["test"] & variants["train"]
    entry = manifests["test"][0]
    info = sf.info(entry["audio_filepath"])
    assert (info.samplerate, info.channels) == (16000, 1)
    assert abs(info.duration - entry["duration"]) < 1e-3 and 0.5 < entry["duration"] < 10


def test_rerun_skips_existing_files(tiny_speech):
    path = tiny_speech / "wavs/test/test-000000.wav"
    before = path.stat().st_mtime_ns
    synthesize({"test": []}, tiny_speech / "other", {}, workers=1)  # empty split is fine
    from data_prep.synth_speech import plan_split

    jobs = plan_split(
        ["God saw the light, and saw that it was good."], "test", tiny_speech, None, 0
    )
    assert jobs[0][0] == str(path)
    from data_prep.synth_speech import _speak

    entry = _speak(jobs[0])
    assert path.stat().st_mtime_ns == before and entry["duration"] > 0


def test_festival_speaks_the_test_utterances(tmp_path):
    text = ["God saw the light, and saw that it was good.", "The king sent his servants."]
    manifests = synthesize({"test": text, "test_festival": text}, tmp_path, {}, workers=1, seed=0)
    espeak, festival = (read_manifest(manifests[s]) for s in ("test", "test_festival"))
    assert [e["text"] for e in festival] == [e["text"] for e in espeak]
    assert {e["synthesizer"] for e in festival} == {"festival"}
    assert {e["synthesizer"] for e in espeak} == {"espeak-ng"}
    info = sf.info(festival[0]["audio_filepath"])
    assert (info.samplerate, info.channels) == (16000, 1) and info.duration > 1
