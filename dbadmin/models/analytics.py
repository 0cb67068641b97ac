"""Append-only product events.

No foreign keys on purpose: events outlive the users and conversations they mention, and the
insert path stays cheap (no FK checks) on the busiest table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base


class AnalyticsEvent(Base):
    __tablename__ = "analytics"
    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[uuid.UUID | None]
    conversation_id: Mapped[int | None]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    timestamp: Mapped[datetime] = mapped_column(server_default=func.now())


# "latest events of a kind" (dashboards)
Index(
    "ix_analytics_event_type_timestamp",
    AnalyticsEvent.event_type,
    AnalyticsEvent.timestamp.desc(),
)
