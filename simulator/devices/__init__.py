"""Trainee devices on the range: a camera that sees laser shots on the screen, and triggers.

Everything here is Qt-free and runs headless. Each device is reached through a port
(`frames.CameraSource`, `triggers.TriggerSource`) with the real adapter (OpenCV, pyserial,
hidapi) and a file-backed or synthetic source behind the same interface.
"""
