"""Players shared by the projector, the replay and the preview: decoding, pre-roll, presentation."""


class PlayerUnavailable(RuntimeError):
    """A player backend cannot start here; the message says what to install or choose."""
