"""The tasks of the run skeleton (`base`): `translation` and `asr`, one folder each."""

import importlib


def lazy_exports(package: str, exports: dict):
    """A module `__getattr__` for `package` that imports `package.<module>` on the first use of
    each name in `exports` ({name: module}), so importing the package starts no TensorFlow."""

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
