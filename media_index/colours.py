"""A clip's Y'CbCr colours as players read them: which matrix, and which range.

The player converts pictures with these rules and playback proxies are tagged with them,
so that a copy shows the colours its original does.
"""

from __future__ import annotations

from typing import Literal

Matrix = Literal["bt709", "bt601", "bt2020"]

# FFmpeg's AVColorSpace values that name a matrix players use.
_MATRICES: dict[int, Matrix] = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020", 10: "bt2020"}
FULL_RANGE, LIMITED_RANGE = 2, 1
"""FFmpeg's AVColorRange values for full ("JPEG") and limited ("MPEG", video) range."""
SWSCALE: dict[Matrix, int] = {"bt709": 1, "bt601": 5, "bt2020": 9}
"""swscale's numbers (``SWS_CS_*``) for each matrix."""


def said_matrix(colorspace: int | None) -> bool:
    """Whether an AVColorSpace value names a matrix we use (not unsaid, RGB or another)."""
    return colorspace in _MATRICES


def matrix_of(colorspace: int | None, height: int) -> Matrix:
    """The matrix a clip says, or else the one players take for its height.

    That is BT.709 from 720 lines up and BT.601 below, for a clip that says no matrix we
    use (nothing, an RGB source's tag, another standard's).
    """
    if colorspace is not None and colorspace in _MATRICES:
        return _MATRICES[colorspace]
    return "bt709" if height >= 720 else "bt601"


def full_range(color_range: int | None, pixel_format: str | None) -> bool:
    """Whether a clip's pictures are full range: flagged so, or in a ``yuvj`` format."""
    return color_range == FULL_RANGE or (pixel_format or "").startswith("yuvj")
