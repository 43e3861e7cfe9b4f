"""Offline-first sync: pull, push, drafts and blobs (FORMATS.md §sync).

- ``cursor``: signed pull cursors (epoch, owner, a version per person);
- ``pull``: pages of the per-person change log, with resets and scope changes;
- ``push`` and ``mutations``: the exactly-once mutation ledger and the names it accepts, each
  calling the same service function as the HTTP route;
- ``drafts``: versioned application drafts with sealed forms;
- ``service``: the pure rules; ``store``, ``blob_store``: SQL; ``routes``: HTTP; ``jobs``: compaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.kernel.surface import surface

# The public surface: what other domains may use of this one, and all they may import
# (docs/architecture.md); the rest of the package is its own business.
_SURFACE = {
    "add_uploader": "sync.blob_store",
    "get_content": "sync.blob_store",
    "get_infos": "sync.blob_store",
}
__getattr__ = surface(__name__, _SURFACE)
__all__ = [  # the names of _SURFACE
    "add_uploader",
    "get_content",
    "get_infos",
]

if TYPE_CHECKING:
    from sync.blob_store import add_uploader, get_content, get_infos
