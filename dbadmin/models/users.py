"""Accounts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base, CreatedAt


class User(CreatedAt, Base):
    __tablename__ = "users"

    # UUID keys: ids appear in URLs and are made by the app as well as the database.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    # the unique constraint's index is the lookup index
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    language_preference: Mapped[str] = mapped_column(String(8), server_default=text("'EN'"))
    theme_preference: Mapped[str] = mapped_column(String(16), server_default=text("'light'"))
    last_login: Mapped[datetime | None]
