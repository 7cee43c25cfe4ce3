"""Frozen dataclass configs loaded from YAML, overridable with typed `--set key=value`.

Unknown keys are errors (with the valid keys listed), values are converted to the field's
type, and the resolved config is written into the run directory. Each section's keys are
explained in the `Args:` part of its dataclass's docstring, which `describe` turns into the
`--help` text: one source of truth.
"""

import dataclasses
import inspect
import re
import textwrap
import types
import typing

import yaml

from data_prep.validation import refuse_inapplicable, validate
from seq2seq.files import write_text

__all__ = ["load_config", "refuse_inapplicable", "validate"]


def _convert(value, annotation, key):
    """Converts a YAML or command-line value to a field's annotated type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _convert(value, args[0], key)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, prefix=f"{key}.")
    if origin is tuple:
        return tuple(value)
    try:
        if annotation is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if annotation is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return annotation(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"config key {key!r}: cannot read {value!r} as {annotation.__name__}"
        ) from None


def from_dict(cls, values: dict | None, prefix: str = ""):
    """Builds dataclass `cls` from a (nested) dict; unknown keys raise ValueError."""
    values = values or {}
    if not isinstance(values, dict):
        raise ValueError(f"config section {prefix.rstrip('.') or 'root'!r} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {[prefix + k for k in unknown]}; valid keys in this section: "
            f"{sorted(prefix + k for k in fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(v, hints[k], prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Applies `a.b=value` strings to a nested dict (values parsed as YAML scalars)."""
    for override in overrides:
        if "=" not in override:
            raise ValueError(f"--set expects key=value, got {override!r}")
        key, raw = override.split("=", 1)
        *parents, leaf = key.strip().split(".")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw) if raw.strip() else ""
    return values


def load_config(cls, path=None, overrides: list[str] | None = None):
    """Loads `cls` from a YAML file (or defaults) and applies `--set` overrides."""
    values = {}
    if path is not None:
        with open(path, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
    return from_dict(cls, apply_overrides(values, overrides or []))


def save_config(config, path):
    write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def field_help(cls) -> dict[str, str]:
    """{key: explanation} from the `Args:` sections of the docstrings of `cls` and its bases
    (Google style: `name: text` or `name, other: text`, continued by deeper-indented lines); a
    subclass's entry wins over its base's."""
    helps = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        if "\nArgs:\n" not in f"\n{doc}":
            continue
        section = re.split(r"^Args:\n", doc, flags=re.M)[1]
        entries = re.findall(r"^    (\w+(?:, \w+)*): (.*(?:\n {6,}.*)*)", section, flags=re.M)
        for names, text in entries:
            for name in names.split(", "):
                helps[name] = " ".join(text.split())
    return helps


def describe(config_cls, width: int = 90) -> str:
    """The keys of a pipeline config, section by section, with their defaults and the
    explanations of `field_help` (keys explained together are listed together): the
    `train --help` text."""
    lines = ["Config keys (set in the YAML file or with --set KEY=VALUE), with their defaults:"]
    for section in dataclasses.fields(config_cls):
        section_cls = typing.get_type_hints(config_cls)[section.name]
        helps = field_help(section_cls)
        groups = []  # [(help, [(key, default)])], keys sharing one explanation together
        for key in dataclasses.fields(section_cls):
            text = helps.get(key.name, "(undocumented)")
            default = list(key.default) if isinstance(key.default, tuple) else key.default
            default = yaml.safe_dump(default, default_flow_style=True).splitlines()[0]
            if groups and groups[-1][0] == text:
                groups[-1][1].append((key.name, default))
            else:
                groups.append((text, [(key.name, default)]))
        lines.append("")
        for text, keys in groups:
            names = [f"{section.name}.{k} = {d}" for k, d in keys]
            joined = "  " + ", ".join(names)
            lines += [joined] if len(joined) <= width else [f"  {name}" for name in names]
            lines += textwrap.wrap(text, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines) + "\n"
