"""Speech data: audio reading and features (librosa and `tf.signal`), transcripts and their
alphabet, manifests, the feature cache, augmentation with its rooms and channels, long-audio
segmentation and the speech tf.data pipeline."""
