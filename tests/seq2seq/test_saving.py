"""Saved models load with only the loader imported: every registering module is listed."""

import re
import subprocess
import sys
from pathlib import Path

from seq2seq.training.fit import SERIALIZABLE_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_registering_module_is_imported_before_loading():
    registering = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "seq2seq").rglob("*.py")
        if re.search(r"register_keras_serializable\(", path.read_text())
    }
    assert registering == set(SERIALIZABLE_MODULES)


def test_a_saved_model_loads_in_a_fresh_process_that_imports_only_the_loader(tmp_path):
    # The commands import their task modules lazily: loading must not rely on them.
    save = (
        "import keras\n"
        "from seq2seq.losses import MaskedSparseCrossEntropy\n"
        "inputs = keras.Input((3,))\n"
        "model = keras.Model(inputs, keras.layers.Dense(4)(inputs))\n"
        "model.compile(loss=MaskedSparseCrossEntropy())\n"
        f"model.save({str(tmp_path / 'm.keras')!r})\n"
    )
    load = (
        "from seq2seq.training.fit import load_model\n"
        f"model = load_model({str(tmp_path / 'm.keras')!r})\n"
        "print(type(model.loss).__name__)\n"
    )
    for code in (save, load):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("MaskedSparseCrossEntropy")
