"""Text chunks the assistant retrieves from: one row per chunk and embedding model.

The vectors themselves live in the vector store, keyed by this row's id; the database keeps
what the application needs to show, re-embed or delete them (which chapter, which text, which
model made the vector, when).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Identity, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base, CreatedAt


class Embedding(CreatedAt, Base):
    __tablename__ = "embeddings"
    __table_args__ = (
        CheckConstraint("chunk_text <> ''", name="chunk_text"),
        # a chapter's chunks (re-embedding a chapter, deleting its vectors)
        Index("ix_embeddings_chapter", "chapter"),
    )

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    chapter: Mapped[str] = mapped_column(String(200))  # the chapter's slug
    chunk_text: Mapped[str] = mapped_column(Text)
    embedding_model: Mapped[str] = mapped_column(String(100))
