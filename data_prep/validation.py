"""The one way a config dataclass checks its values (every YAML section, in every layer).

A section's `__post_init__` calls `validate` with (key, holds, expected) rules; the first rule
that fails raises `ValueError: config key 'section.key' is VALUE: expected EXPECTED`, the
message `--set` and YAML errors print. It lives in the lowest layer so that the configs of
`data_prep` (features, augmentation, long-audio cutting) use it as `seq2seq` and `pipelines` do
(`seq2seq.config` re-exports it).
"""

import dataclasses


def validate(config, section: str, rules):
    """Raises ValueError for the first rule that fails: `rules` holds (key, holds, expected)
    triples, e.g. `("units", config.units > 0, "a positive number")`."""
    for key, holds, expected in rules:
        if not holds:
            raise ValueError(
                f"config key '{section}.{key}' is {getattr(config, key)!r}: expected {expected}"
            )


def refuse_inapplicable(config, section: str, keys, why: str):
    """Raises ValueError for the first of `keys` whose value is not its default: it does not
    apply to the config as set (`why`), and silently ignoring it would mislead."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for key in keys:
        if getattr(config, key) != defaults[key]:
            raise ValueError(
                f"config key '{section}.{key}' is {getattr(config, key)!r} but does not apply: "
                f"{why}; leave it out (default {defaults[key]!r})"
            )
