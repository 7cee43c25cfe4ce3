import pytest

from data_prep.text.normalize import normalize_text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("In the beginning , God  created .", "In the beginning, God created."),
        ("He said , “ Go ! ” ¶ Then ( quietly ) left", "He said, “Go!” Then (quietly) left"),
        ("¿ Quién eres ? ¡ Ven !", "¿Quién eres? ¡Ven!"),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
    ],
)
def test_normalize_text_fixes_spacing(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_composes_unicode():
    decomposed = "Jehova\u0301"  # a + combining acute accent
    assert normalize_text(decomposed) == "Jehová"
    assert normalize_text("ﬁn", form="NFKC") == "fin"


def test_in_graph_normalization_matches_python():
    import tensorflow as tf

    from data_prep.text.normalize import normalize_text_tf

    lines = [
        "  Hola ,  mundo  ( sí )  ¿ qué ?  ¶ fin . ",
        "a\u00a0 b\u2003c\tjunto",
        "«  Dijo  »  “ x ” ’",
        "ﬁn de la cuestión",  # a ligature: NFC keeps it, NFKC splits it
    ]
    for form in ("NFC", "NFKC"):
        got = [t.decode() for t in normalize_text_tf(tf.constant(lines), form).numpy()]
        assert got == [normalize_text(line, form) for line in lines]
