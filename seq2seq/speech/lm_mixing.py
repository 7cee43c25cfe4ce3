"""A word n-gram model interpolated with a unigram model of general word frequencies.

A model estimated from the Bible knows Bible words only: a recognizer that hears "badger"
spells it by ear, and the word LM cannot help. Mixing in the unigram frequencies of general
text (`data_prep.speech.word_list`: wordfreq's most frequent words) gives every everyday word a
probability without changing what the n-grams say about Bible text:

    p(w | h) = (1 - weight) * p_ngram(w | h) + weight * p_words(w)

This is SRILM's static interpolation (`ngram -mix-lm`): the mixed probability is written for
every n-gram the n-gram model holds (the general words join the unigrams), and each context's
backoff weight is recomputed so that its distribution sums to one again:

    bow(h) = (1 - sum over seen w of p(w | h)) / (1 - sum over the same w of p(w | h'))

with h' the context without its first word. For an unseen word in a context the result is the
backed-off mixture, which differs a little from the exact mixture (SRILM's approximation too);
a test checks that every context's distribution sums to one.
"""

import math
from collections import defaultdict

from seq2seq.speech.language_model import BOS, EOS, NEVER, UNK, NGramModel


def mix_unigrams(model: NGramModel, words: dict[str, float], weight: float) -> NGramModel:
    """`model` interpolated with the unigram distribution `words` ({word: probability}, summing
    to one; `<s>`, `</s>` and `<unk>` get none of it) at `weight` (0 < weight < 1)."""
    if not 0 < weight < 1:
        raise ValueError(f"the general words' weight must be between 0 and 1, not {weight}")
    total = sum(words.values())
    if not words or abs(total - 1) > 1e-6:
        raise ValueError(f"word probabilities must sum to 1 (they sum to {total:.6f})")
    general = {w: p for w, p in words.items() if w not in (BOS, EOS, UNK)}
    linear = [{g: 10**lp for g, lp in probs.items()} for probs in model.probs]
    mixed = [dict() for _ in range(model.order)]
    unigrams = {g[0] for g in linear[0]} | set(general)
    for word in unigrams:
        p = (1 - weight) * linear[0].get((word,), 0.0) + weight * general.get(word, 0.0)
        mixed[0][(word,)] = p
    for n in range(1, model.order):
        mixed[n] = {
            g: (1 - weight) * p + weight * general.get(g[-1], 0.0) for g, p in linear[n].items()
        }
    backoffs = []
    for n in range(model.order - 1):  # contexts of order n + 1, continued at order n + 2
        seen, lower = defaultdict(float), defaultdict(float)
        for gram, p in mixed[n + 1].items():
            context = gram[:-1]
            seen[context] += p
            lower[context] += _prob(mixed, backoffs, gram[-1], context[1:])
        weights = {}
        for gram in mixed[n]:
            left, right = 1 - seen.get(gram, 0.0), 1 - lower.get(gram, 0.0)
            weights[gram] = math.log10(left / right) if left > 1e-12 and right > 1e-12 else 0.0
        backoffs.append(weights)
    probs = [{g: min(0.0, math.log10(p)) if p > 0 else NEVER for g, p in m.items()} for m in mixed]
    probs[0][(BOS,)] = NEVER
    return NGramModel(model.order, probs, backoffs)


def _prob(mixed, backoffs, word, context) -> float:
    """p(word | context) of the mixed model by the backoff rule, from its linear probabilities
    and the backoff weights computed so far (those of the lower orders)."""
    factor = 1.0
    while context and (*context, word) not in mixed[len(context)]:
        factor *= 10 ** backoffs[len(context) - 1].get(context, 0.0)
        context = context[1:]
    return factor * mixed[len(context)].get((*context, word), 0.0)
