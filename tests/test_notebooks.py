"""Every notebook runs top to bottom (nbclient) on tiny settings injected after its parameter
cell, and the committed notebooks carry no outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def execute(name: str, parameters: dict, timeout: int = 600):
    """Runs notebooks/`name` from the repository root with `parameters` set right after the
    cell tagged `parameters` (as papermill does); returns the executed notebook."""
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    index = next(
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    )
    overrides = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides))
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": REPO}}
    )
    client.execute()
    return notebook


def images(notebook) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def text(notebook) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_the_three_notebooks_are_committed_without_outputs():
    assert [p.name for p in NOTEBOOKS] == [
        "01_translation.ipynb",
        "02_speech.ipynb",
        "03_results.ipynb",
    ]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1, path.name
        assert all(not c.outputs and c.execution_count is None for c in code), path.name


@pytest.fixture(scope="module")
def translation_run(tiny_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("nb_translation") / "run"
    notebook = execute(
        "01_translation.ipynb",
        {
            "CORPUS": str(tiny_corpus),
            "CONFIG": "configs/translate/tiny.yaml",
            "SETTINGS": ["train.epochs=4"],
            "RUN_DIR": str(run),
            "EVAL_LIMIT": 20,
            "SAMPLES": 3,
        },
    )
    return run, notebook


@pytest.fixture(scope="module")
def speech_run(tiny_speech, tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb_speech")
    notebook = execute(
        "02_speech.ipynb",
        {
            "SPEECH": str(tiny_speech),
            "CONFIG": "configs/asr/tiny.yaml",
            "SETTINGS": ["train.epochs=2", f"data.cache_dir={folder / 'cache'}"],
            "RUN_DIR": str(folder / "run"),
            "EVAL_LIMIT": 4,
        },
    )
    return folder / "run", notebook


def test_translation_notebook(translation_run):
    run, notebook = translation_run
    # Length histogram, training curves, pieces per word, two attention maps, BLEU by length.
    assert images(notebook) == 6
    output = text(notebook)
    assert "train     400 pairs" in output and "pieces per dev word" in output
    assert (run / "eval/test/report.json").exists()
    assert len(list((run / "notebook").glob("attention_*.png"))) == 2


def test_speech_notebook(speech_run):
    run, notebook = speech_run
    # Corpus panels, waveform + spectrogram, training curves, posteriors, WER by voice.
    assert images(notebook) == 5
    output = text(notebook)
    assert "train     40 utterances" in output and "greedy transcript:" in output
    assert (run / "notebook/posteriors.png").exists()
    assert (run / "eval/test/report.json").exists()


def test_results_notebook_compares_the_runs(translation_run, speech_run, tmp_path):
    runs = [str(translation_run[0]), str(speech_run[0])]
    notebook = execute("03_results.ipynb", {"RUNS": runs, "OUT": str(tmp_path / "report")})
    assert images(notebook) == 2  # one scores/speed figure per kind of run
    assert "2 runs:" in text(notebook)
    assert (tmp_path / "report/report.html").exists()
