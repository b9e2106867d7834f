"""Players shared by the projector, the replay and the preview: decoding, pre-roll, presentation."""
