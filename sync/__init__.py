"""Offline-first sync: pull, push, drafts and blobs (FORMATS.md §sync).

- ``cursor``: signed pull cursors (epoch, owner, a version per person);
- ``pull``: pages of the per-person change log, with resets and scope changes;
- ``push`` and ``mutations``: the exactly-once mutation ledger and the names it accepts, each
  calling the same service function as the HTTP route;
- ``drafts``: versioned application drafts with sealed forms;
- ``service``: the pure rules; ``store``, ``blob_store``: SQL; ``routes``: HTTP; ``jobs``: compaction.
"""
