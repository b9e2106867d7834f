"""The media index: the clips an agency owns, what is in them, and who is shown.

It keeps its own tables in the record's database and imports nothing of the simulator:
the vocabulary it checks demographic tags against is handed to it.
"""

from media_index.database import MediaIndexError
from media_index.index import Clip, MediaIndex, SearchFilter
from media_index.probe import Probe, ProbeError, content_hash, probe
from media_index.scan import ScanReport
from media_index.sidecar import Attribute, ClipTags, SidecarError, Vocabulary, sidecar_for

__all__ = [
    "Attribute",
    "Clip",
    "ClipTags",
    "MediaIndex",
    "MediaIndexError",
    "Probe",
    "ProbeError",
    "ScanReport",
    "SearchFilter",
    "SidecarError",
    "Vocabulary",
    "content_hash",
    "probe",
    "sidecar_for",
]
