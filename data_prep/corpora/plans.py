"""Which utterance each speaker says: the plan of one split of the synthetic speech corpus
(`data_prep.corpora.synth_speech` speaks it).

A plan is deterministic given its seed: the utterances drawn (clauses of the split's lines, or
whole lines for the verse splits), the speaker of each (`data_prep.corpora.voices`) and the
engine's sampled speaking parameters. test_voices and test_festival draw the same utterances
as test, test_verses_voices the same lines as test_verses.
"""

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from data_prep.corpora import engines as tts
from data_prep.corpora.voices import FIXED_SPLITS, allocate, sources, speaker_of
from data_prep.speech.word_list import word_phrases
from data_prep.text.normalize import short_pieces, split_utterances


@dataclass(frozen=True)
class Job:
    """One utterance to speak: where, what, by whom, how."""

    path: str
    text: str
    engine: str
    voice: str
    speaker: str
    params: dict
    extra: dict = field(default_factory=dict)  # more manifest fields


# Whole lines (verses) with their translation, for evaluating speech translation: each is
# spoken by the speakers of the split named here.
VERSE_SPLITS = {"test_verses": "test", "test_verses_voices": "test_voices", "dev_verses": "dev"}
HELD_OUT_VOICES = ("test_voices", "test_verses_voices")
# Isolated general words and short phrases of them spoken by the dev speakers, words never
# heard in training (data_prep.speech.word_list): a dev set for the everyday words that Bible
# text lacks.
WORD_SPLIT = "dev_words"


def plan_split(
    texts,
    split,
    out,
    limit,
    seed,
    engines=("espeak-ng",),
    shares=None,
    short_share=0.0,
    language="en",
    translations=None,
    word_share=0.0,
) -> list[Job]:
    """Utterances of a split with their speakers and sampled settings (deterministic given
    seed; test_voices and test_festival draw the same utterances as test, test_verses_voices
    the same lines as test_verses). `short_share` of the train split's utterances are cut
    short (`short_pieces`; other splits ignore it), and `word_share` of them are replaced by
    phrases of 1-3 general words (`data_prep.speech.word_list`, its train words). dev_words
    speaks `limit` such phrases of the dev words (`texts` unused) by the dev speakers. The verse
    splits (`VERSE_SPLITS`) speak whole lines, each with its line of `translations` as the
    manifest's `translation`."""
    same = {"test_voices": "test", "test_festival": "test", "test_verses_voices": "test_verses"}
    base = same.get(split, split)
    rng = random.Random(f"{seed}-{base}")
    if split == WORD_SPLIT:
        utterances = [(u, None) for u in word_phrases(limit or 0, "dev", rng, language)]
    elif split in VERSE_SPLITS:
        if translations is None or len(translations) != len(texts):
            raise ValueError(f"{split}: one translation per line is needed")
        utterances = list(zip(texts, translations, strict=True))
    else:
        utterances = [(u, None) for text in texts for u in split_utterances(text)]
    if limit is not None and len(utterances) > limit:
        utterances = rng.sample(utterances, limit)
    if split == "train":  # its own generator: without short pieces the plan is unchanged
        cut = short_pieces([u for u, _ in utterances], short_share, random.Random(f"{seed}-short"))
        utterances = [(u, None) for u in cut]
        if word_share > 0:  # its own generator too
            words_rng = random.Random(f"{seed}-words")
            replaced = words_rng.sample(range(len(utterances)), round(word_share * len(utterances)))
            phrases = word_phrases(len(replaced), "train", words_rng, language)
            for i, phrase in zip(replaced, phrases, strict=True):
                utterances[i] = (phrase, None)
    speaker_split = {WORD_SPLIT: "dev"}.get(split, VERSE_SPLITS.get(split, split))
    chosen = sources(speaker_split, engines, shares, language)
    if not chosen:
        return []
    counts = allocate(len(utterances), [share for _, share in chosen])
    assigned = [source for (source, _), n in zip(chosen, counts, strict=True) for _ in range(n)]
    if len(chosen) > 1:  # one speaker set draws nothing here: the fixed splits keep their draws
        rng.shuffle(assigned)
    jobs = []
    for i, ((text, translation), source) in enumerate(zip(utterances, assigned, strict=True)):
        voice, params = tts.sample(source.engine, source.voices, rng, source.accents)
        if language != "en":  # English manifests stay as they were
            params["language"] = language
        extra = {} if translation is None else {"translation": translation}
        speaker = speaker_of(source, voice)
        name = f"{split}-{i:06d}"
        if split not in FIXED_SPLITS:
            spoken = json.dumps([text, source.engine, voice, params], sort_keys=True)
            name += "-" + hashlib.sha1(spoken.encode()).hexdigest()[:8]
        path = str(Path(out) / "wavs" / split / f"{name}.wav")
        jobs.append(Job(path, text, source.engine, voice, speaker, params, extra))
    return jobs
