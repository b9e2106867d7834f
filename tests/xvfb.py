"""A fresh Xvfb for tests that need a real X server (keyboard focus, OpenGL)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def missing(*tools: str) -> list[str]:
    """The tools of ``tools`` not on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


def skip_unless_ci(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where a skip would hide a broken install.

    ``scripts/bootstrap.sh --dev`` installs every tool these tests use.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, in CI")
    pytest.skip(reason)


@contextmanager
def xvfb(screen: str, *tools: str) -> Iterator[str]:
    """Xvfb on a display number it picks itself, with ``screen`` (WxHxD); yields DISPLAY.

    Skips (or fails in CI) when Xvfb or any of ``tools`` is not installed.
    """
    if absent := missing("Xvfb", *tools):
        skip_unless_ci(f"{' and '.join(absent)} not installed (scripts/bootstrap.sh --dev "
                       "installs them)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", screen,
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as announced:
        number = announced.readline().strip()
    try:
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)
