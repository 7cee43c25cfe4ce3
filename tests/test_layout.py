"""The layers of the code base: imports point down only, and modules stay readable."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# pipelines (commands, tasks, reports) -> seq2seq (the model library) -> data_prep
BELOW = {"seq2seq": {"data_prep"}, "data_prep": set()}
APPLICATION = {"pipelines", "benchmarks", "seq2seq", "data_prep", "tests", "notebooks"}


def _imported(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module, node.lineno


@pytest.mark.parametrize("package", sorted(BELOW))
def test_imports_point_down(package):
    allowed = BELOW[package] | {package}
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in _imported(path)
        if name.split(".")[0] in APPLICATION - allowed
    ]
    assert upward == []


def test_modules_stay_around_300_lines():
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for package in ("seq2seq", "pipelines", "data_prep")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 330
    ]
    assert long == []


# data_prep's rooms (docs/layout.md) and what each may import besides itself: text is the base,
# speech reads text's normalization, corpora (the builders) use both; `validation` is shared.
ROOMS = {"text": {"validation"}, "speech": {"text", "validation"}, "corpora": {"text", "speech"}}


def test_data_prep_holds_rooms_only():
    top = {path.name for path in (ROOT / "data_prep").iterdir() if path.name != "__pycache__"}
    assert top == {"__init__.py", "validation.py", *ROOMS}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_rooms_import_their_neighbours_only(room):
    allowed = ROOMS[room] | {room, "validation"}
    crossing = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "data_prep" / room).rglob("*.py"))
        for name, line in _imported(path)
        if name.startswith("data_prep.") and name.split(".")[1] not in allowed
    ]
    assert crossing == []


def test_the_model_library_never_imports_corpus_builders():
    builders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "seq2seq").rglob("*.py"))
        for name, line in _imported(path)
        if name.startswith("data_prep.corpora")
    ]
    assert builders == []


def _modules():
    for package in sorted(APPLICATION):
        for path in sorted((ROOT / package).rglob("*.py")):
            if ".ipynb_checkpoints" not in path.parts:
                yield path


def test_no_module_shadows_the_standard_library():
    # A folder's `profile.py` once hid the standard library's `profile` from PyTorch.
    shadowing = [str(p.relative_to(ROOT)) for p in _modules() if p.stem in sys.stdlib_module_names]
    assert shadowing == []


def test_no_module_is_imported_under_a_sibling_modules_name():
    """`from pipelines.tasks import translation as translator` read as the module
    `pipelines.tasks.translator`; an alias may not be the name of another module of the same
    package."""
    misleading = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                folder = ROOT / node.module.replace(".", "/")
                for alias in node.names:
                    sibling = alias.asname and alias.asname != alias.name
                    if sibling and (
                        (folder / f"{alias.asname}.py").exists() or (folder / alias.asname).is_dir()
                    ):
                        misleading.append(
                            f"{path.relative_to(ROOT)}:{node.lineno} {alias.name} as {alias.asname}"
                        )
    assert misleading == []


def test_the_speech_recognition_task_has_one_name():
    """The task is `asr` wherever it is a name: the command, its configs, its task folder
    (`speech_translation` chains it with translation)."""
    tasks = {path.stem for path in (ROOT / "pipelines" / "tasks").iterdir() if path.is_dir()}
    assert tasks - {"__pycache__"} == {"asr", "translation", "speech_translation"}
    assert (ROOT / "pipelines/asr.py").exists() and (ROOT / "configs/asr").is_dir()
    stray = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "pipelines").rglob("*.py")
        if "speech" in p.stem and p.stem != "speech_translate"
    ]
    assert stray == []
