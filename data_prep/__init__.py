"""Data preparation in three rooms: `text` (normalization, parallel corpora, subwords, the
translation pipeline), `speech` (audio, features, manifests, caches, augmentation, the speech
pipeline) and `corpora` (the builders). `validation` checks every config section's values."""
