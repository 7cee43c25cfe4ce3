"""The Bible corpus builder must produce properly spaced text (no glued words)."""

import re
from pathlib import Path

import pytest

from data_prep.corpora.bible import DEV_BOOKS, TEST_BOOKS, clean_osis, split_of

# Real OSIS markup copied from the SWORD modules (shortened), with the traps in them.
OSIS_FIXTURE = [
    # WEB Gen 1:1: a footnote between two words ("Godcreated" with a naive clean).
    (
        '<w lemma="strong:H0430">In</w> <w lemma="strong:H7225">beginning</w>, '
        '<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">1:1 '
        "</reference>The Hebrew word rendered “God” is “אֱלֹהִ֑ים” (Elohim).</note>"
        '<w lemma="strong:H1254">created</w> <w lemma="strong:H8064">heavens</w>. ',
        "In beginning, God created heavens.",
    ),
    # WEB Gen 4:1: notes after a word and after a comma.
    (
        '<w lemma="strong:H3045">knew</w><note placement="foot">or, lay with</note>'
        '<w lemma="strong:H2332">Eve</w>. She <w lemma="strong:H2029">conceived</w>,'
        '<note placement="foot">or, became pregnant</note><w lemma="strong:H3068">and</w> '
        '<w lemma="strong:H3205">gave</w>',
        "knew Eve. She conceived, and gave",
    ),
    # WEB Ps 3:2: poetry lines are separate elements with no space between them.
    (
        'of <w lemma="strong:H3068">my</w> soul,<l eID="gen7863" level="1"/> <l level="2" '
        'sID="gen7864"/>“<w lemma="strong:H3068">There</w> is no help.”<l eID="gen7864"/>',
        "of my soul, “There is no help.”",
    ),
    # RV1909: adjacent word elements without a space are separate words ...
    (
        '<w lemma="strong:G3588">de</w><transChange type="added">la casa de</transChange>'
        '<w lemma="strong:G3488">Narciso</w>, <w lemma="strong:H0834">de que</w></transChange>'
        '<w lemma="strong:H8010">Salomón</w>',
        "de la casa de Narciso, de que Salomón",
    ),
    # ... except a verb and its enclitic pronoun.
    (
        '<w lemma="strong:H7650">Júrame</w><transChange type="added">lo</transChange> hoy',
        "Júramelo hoy",
    ),
    # KJV: divine name markup, pilcrow and a trailing note.
    (
        'And the <divineName><w lemma="strong:H3068">LORD</w></divineName> ¶ '
        '<w lemma="strong:H0430">God</w> formed man.<note placement="foot">'
        "of the dust…: Heb. dust</note>  ",
        "And the LORD God formed man.",
    ),
    # WEB Rev 22:21: the glossary after the book's end is not part of the verse.
    (
        'with all the saints. Amen.  <chapter eID="Rev.22"/> <div canonical="true" '
        'eID="gen35575" osisID="Rev" type="book"/> <div sID="gen35837" type="glossary"/> '
        "World English Bible Glossary Abaddon ...",
        "with all the saints. Amen.",
    ),
]

GLUED = re.compile(r"\b\w*[a-zà-ÿ][A-ZÀ-Ý]\w*\b")


@pytest.mark.parametrize("raw, expected", OSIS_FIXTURE)
def test_clean_osis_spaces_words(raw, expected):
    assert clean_osis(raw) == expected


def test_split_is_by_whole_books():
    assert [split_of(b) for b in TEST_BOOKS] == ["test"] * 3
    assert [split_of(b) for b in DEV_BOOKS] == ["dev"] * 2
    assert split_of("Gen") == split_of("Rev") == "train"


SWORD = Path("/usr/share/sword/mods.d")


@pytest.mark.skipif(
    not (SWORD / "spaRV1909eb.conf").exists(),
    reason="SWORD modules not installed (make test "
    "installs them; the fixture test above covers the cleaning)",
)
@pytest.mark.parametrize("module", ["spaRV1909eb", "engWEB2015eb", "engKJV2006eb"])
def test_real_verses_have_no_glued_words(module):
    """Every verse of books with many notes, poetry and transChange markup cleans without
    lower-to-upper-case joins ("knewEve") or known glued words."""
    from pysword.modules import SwordModules

    modules = SwordModules("/usr/share/sword")
    modules.parse_modules()
    bible = modules.get_bible_from_module(module)
    books = {b.osis_name: b for t in bible.get_structure().get_books().values() for b in t}
    glued, verses = [], 0
    for name in ["Gen", "Ps", "Rom", "1Kgs", "Neh", "Mark"]:
        for chapter, count in enumerate(books[name].chapter_lengths, start=1):
            raw = bible.get(books=[name], chapters=[chapter], clean=False).split("\n")
            for text in map(clean_osis, raw[:count]):
                verses += 1
                glued += GLUED.findall(text)
                glued += [w for w in ("Godcreated", "knewEve", "YahwehGod") if w in text]
    assert verses > 4000
    assert glued == []
