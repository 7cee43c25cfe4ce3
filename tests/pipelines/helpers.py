"""Runs code in a fresh Python that cannot import the toolkit, as a serving client would."""

import subprocess
import sys
import textwrap

BLOCK = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("seq2seq", "data_prep", "pipelines", "tests"):
            raise ImportError("the toolkit must not be needed: " + name)
sys.meta_path.insert(0, _Block())
"""


def run_without_toolkit(script: str, cwd) -> str:
    """Runs `script` with imports of our packages blocked; returns its stdout."""
    code = BLOCK + textwrap.dedent(script)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
