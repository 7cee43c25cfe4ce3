import subprocess
import sys

import pytest

from pipelines.cli import _FILTER


def test_commands_hide_tensorflow_start_up_notices():
    command = [sys.executable, "-m", "pipelines.report", "/nonexistent-run"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 2
    assert quiet.stderr.strip() == "error: /nonexistent-run: not a run directory (no config.yaml)"


@pytest.mark.parametrize(
    "command", ["pipelines.asr", "pipelines.translate", "pipelines.serve", "pipelines.report"]
)
def test_importing_a_command_starts_no_tensorflow(command):
    """TensorFlow may start only after `cli.main` has made it quiet: a command module's own
    imports (its task folder's helpers included) must not pull it in."""
    probe = f"import sys, {command}; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_native_stderr_filter_drops_notices_and_keeps_errors():
    lines = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796001033.450228   25226 port.cc:153] oneDNN custom operations are on.",
        "W0000 00:00:1796001033.450228   25226 util.cc:131] oneDNN supports DT_BOOL only ...",
        "E0000 00:00:1796002575.062274   32159 cuda_platform.cc:52] failed call to cuInit: ...",
        "E0000 00:00:1796002467.856220   30637 util.cc:131] oneDNN supports DT_BOOL only on ...",
        "E0000 00:00:1796002575.062274   32159 op_kernel.cc:1] OUT_OF_RANGE: a real error",
        "F0000 00:00:1796002575.062274   32159 check.cc:1] Check failed: a fatal one",
        "sox FAIL formats: can't open input file",
    ]
    out = subprocess.run(
        [sys.executable, "-c", _FILTER],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.splitlines() == lines[5:]


@pytest.mark.parametrize(
    "pipeline, config_class",
    [
        ("translate", "pipelines.tasks.translation.config.TranslationConfig"),
        ("asr", "pipelines.tasks.asr.config.ASRConfig"),
    ],
)
def test_train_help_explains_every_config_key(pipeline, config_class, capsys):
    """`train --help` is generated from the config dataclasses: every key of every section
    appears with its default and an explanation from the section's docstring."""
    import dataclasses
    import importlib
    import typing

    module, name = config_class.rsplit(".", 1)
    config = getattr(importlib.import_module(module), name)
    main = importlib.import_module(f"pipelines.{pipeline}").main
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "(undocumented)" not in text
    for section in dataclasses.fields(config):
        for key in dataclasses.fields(typing.get_type_hints(config)[section.name]):
            assert f"{section.name}.{key.name} = " in text, key.name
    assert "train.precision = float32" in text  # keys the hand-written list had missed
    assert pipeline == "asr" or "model.attention_units = null" in text
