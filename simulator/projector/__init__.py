"""The trainee's screen: the projector window, its input, and the session that plays a run on it."""
