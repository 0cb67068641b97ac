"""Realistic generators for the application schema (dbadmin/models), by table name.

Shapes that make EXPLAIN on seeded data look like production: see :mod:`dbadmin.seed.app_base`
(the base class and the power-law helpers), :mod:`dbadmin.seed.app_people` (users, tasks,
conversations, messages) and :mod:`dbadmin.seed.app_content` (modules, chapters, metadata,
progress, analytics, embeddings).
"""

from __future__ import annotations

from dbadmin.seed.app_base import AppTable
from dbadmin.seed.app_content import (
    Analytics,
    ChapterProgress,
    Chapters,
    ContentMetadata,
    Embeddings,
    Modules,
)
from dbadmin.seed.app_people import Conversations, Messages, Tasks, Users

GENERATORS: dict[str, type[AppTable]] = {
    cls.name: cls
    for cls in (
        Users,
        Tasks,
        Conversations,
        Messages,
        Modules,
        Chapters,
        ChapterProgress,
        ContentMetadata,
        Embeddings,
        Analytics,
    )
}
