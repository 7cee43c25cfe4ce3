"""Atomic file writes: a killed process leaves the old file or the new one, never a truncated
one, and a full disk is a clear error that leaves the old file intact."""

import errno
import os
from pathlib import Path


class DiskFullError(OSError):
    """No space left on the device while writing a file (the previous version is intact)."""


def atomic_write(path, write, suffix: str | None = None) -> Path:
    """Calls `write(temporary path)` (a sibling of `path` ending in the same `suffix`, by
    default its last one, so writers that check the extension accept it: Keras wants
    `.weights.h5`), then renames the result onto `path`. Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    tmp = path.with_name(f".{path.name.removesuffix(suffix)}.partial{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:  # a failed or interrupted write leaves no partial file
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            kept = f"the previous {path.name} is intact" if path.exists() else "nothing was written"
            raise DiskFullError(
                errno.ENOSPC, f"no space left on the device while writing {path}; {kept}"
            ) from err
        raise
    return path


def write_text(path, text: str) -> Path:
    """`Path.write_text` (UTF-8), atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
