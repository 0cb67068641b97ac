"""The application's reference schema (SQLAlchemy 2 typed declarative).

``Base.metadata`` is what migrations are compared against unless ``DBADMIN_MODELS`` points at
another module (see :func:`dbadmin.migrate.models.load_metadata`).
"""

from __future__ import annotations

from dbadmin.models.analytics import AnalyticsEvent
from dbadmin.models.base import NAMING_CONVENTION, Base
from dbadmin.models.chat import Conversation, Message
from dbadmin.models.content import Chapter, ChapterProgress, ContentMetadata, Module
from dbadmin.models.embeddings import Embedding
from dbadmin.models.tasks import PRIORITIES, Task
from dbadmin.models.users import User

metadata = Base.metadata

__all__ = [
    "NAMING_CONVENTION",
    "PRIORITIES",
    "AnalyticsEvent",
    "Base",
    "Chapter",
    "ChapterProgress",
    "ContentMetadata",
    "Conversation",
    "Embedding",
    "Message",
    "Module",
    "Task",
    "User",
    "metadata",
]
