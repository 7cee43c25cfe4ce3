"""The Keras private APIs this package uses, each reached through one guard here.

Keras does not keep these across versions. `pyproject.toml` pins Keras to the tested minor
version (`TESTED`); where one is missing anyway (another Keras installed by hand), the guard
fails with a message naming it and the tested version, not an AttributeError deep in a
traceback.

- `keras.src.backend.tensorflow.rnn`: `_do_lstm_arguments_support_cudnn`,
  `_do_gru_arguments_support_cudnn` (`seq2seq.recurrent.cudnn_problems`) and
  `_is_gpu_available` (`seq2seq.fast_rnn`): the checks Keras itself makes before cuDNN.
- `MultiHeadAttention._compute_attention` (`seq2seq.translation.transformer`): attention over
  cached keys and values, one decoding step at a time.
- `BackupAndRestore` state (`seq2seq.training.callbacks.Backup`): `_load_model`, `_weights_path`,
  `_training_metadata_path`, `_current_epoch`, `_last_batch_seen`.
- `keras.src.backend.tensorflow.trainer` (`seq2seq.training.distributed`, the multi-worker patch).
- `keras.src.backend.common.global_state`'s object-sharing maps (`no_object_sharing`, used by
  `seq2seq.recurrent.bidirectional`).
"""

import contextlib
import importlib

import keras

TESTED = "3.15"


class KerasVersionError(RuntimeError):
    """A Keras private API this package uses is missing from the installed Keras."""


def _missing(what: str, name: str) -> KerasVersionError:
    return KerasVersionError(
        f"{what} uses Keras's private {name}, which Keras {keras.__version__} does not have; "
        f"this package is tested with Keras {TESTED}.* (pip install 'keras=={TESTED}.*')"
    )


def module(path: str, what: str):
    """The Keras module `path` (e.g. `keras.src.backend.tensorflow.rnn`)."""
    try:
        return importlib.import_module(path)
    except ImportError:
        raise _missing(what, path) from None


def attribute(owner, name: str, what: str):
    """`owner.name`, a private Keras function, method or attribute."""
    try:
        return getattr(owner, name)
    except AttributeError:
        label = getattr(owner, "__name__", type(owner).__name__)
        raise _missing(what, f"{label}.{name}") from None


def tf_rnn(name: str, what: str):
    """A function of Keras's TensorFlow RNN backend, looked up at call time (tests stub
    `_is_gpu_available`)."""
    return attribute(module("keras.src.backend.tensorflow.rnn", what), name, what)


def require(obj, names, what: str):
    """Checks that `obj` has the private attributes `names` (state a subclass relies on)."""
    for name in names:
        attribute(obj, name, what)


SHARING_MAPS = ("shared_objects/id_to_obj_map", "shared_objects/id_to_config_map")


@contextlib.contextmanager
def no_object_sharing(what: str):
    """Turns off, inside, the object sharing of Keras's loading scope.

    `keras.saving.load_model` records every object it serializes or deserializes by `id()`
    and hands back a recorded object when an id comes again. `Bidirectional.__init__`
    serializes and deserializes its layer to make the forward and backward copies; a model
    that builds its layers in `__init__` does so during loading, and a temporary layer whose
    id is that of an object already collected gets that object's config marked shared: the
    backward copy then came back with `go_backwards=False` ("Forward layer and backward layer
    should have different `go_backwards` value"), now and then, depending on memory reuse
    (seen in one benchmark run of a speech model saved and loaded in a long process).
    `seq2seq.recurrent.bidirectional` builds every Bidirectional layer of the models inside."""
    state = module("keras.src.backend.common.global_state", what)
    saved = [state.get_global_attribute(key) for key in SHARING_MAPS]
    for key in SHARING_MAPS:
        state.set_global_attribute(key, None)
    try:
        yield
    finally:
        for key, value in zip(SHARING_MAPS, saved, strict=True):
            state.set_global_attribute(key, value)
