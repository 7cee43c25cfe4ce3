"""Speech translation as a chain: a recognizer's transcript of a recording, segment by segment,
translated by a translation run (`chain`), written as text, TSV, JSON or subtitles (`formats`)
and evaluated on spoken verses with their translations (`evaluation`).

The names below load their module on first use (no TensorFlow on import).
"""

from pipelines.tasks import lazy_exports

_EXPORTS = {
    "SpeechTranslation": "chain",
    "load_translator": "chain",
    "translate_recording": "chain",
    "evaluate_chain": "evaluation",
    "render": "formats",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
