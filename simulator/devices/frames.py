"""What a camera hands over: a picture and when it was exposed, on the run's clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """One camera picture.

    ``image`` is height x width x 3, uint8, in OpenCV's BGR order (an infrared camera's
    grey picture too). ``exposure_ns`` is when its top row was exposed, on the run's clock:
    the moment the frame arrived less the camera's measured latency. With a rolling
    shutter the bottom row was exposed ``readout_ns`` later.
    """

    image: np.ndarray
    number: int
    exposure_ns: int
    readout_ns: int = 0

    def row_exposure_ns(self, row: float) -> int:
        """When the camera's pixel row ``row`` was exposed."""
        height = int(self.image.shape[0])
        if self.readout_ns <= 0 or height <= 1:
            return self.exposure_ns
        return self.exposure_ns + round(self.readout_ns * min(max(row, 0.0), height - 1)
                                        / (height - 1))


class CameraSource(Protocol):
    """A camera: a real one through OpenCV, a video file, or a synthetic one for tests."""

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of its pictures, in pixels."""
        ...

    @property
    def fps(self) -> float:
        """Frames a second."""
        ...

    def read(self) -> CameraFrame | None:
        """The next picture, waiting for it; None once the source has ended or is closed."""
        ...

    def close(self) -> None:
        """Release the camera; a `read` waiting on another thread returns None."""
        ...
