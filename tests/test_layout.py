"""The layers of the code base: imports point down only, and modules stay readable."""

import ast
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
