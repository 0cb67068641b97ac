"""Every plan format people paste: JSON or text EXPLAIN output, bare or inside a container
(psql frames, CSV/TSV exports, auto_explain log entries). Readers live one per module:
``containers`` unwraps, ``text_plan`` rebuilds the JSON shape from the text format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbadmin.errors import UsageError
from dbadmin.explain.formats.containers import unwrap
from dbadmin.explain.formats.text_plan import TextPlanError, looks_like_text_plan, parse_text_plan


@dataclass(frozen=True)
class Container:
    text: str  # the plan text inside the container
    container: str
    top: dict[str, Any] | None  # set when the inside was a text-format plan
    query_text: str | None = None


def read_container(text: str, source: str) -> Container:
    """Unwrap; parse a text-format plan here, leave JSON to the JSON reader."""
    found = unwrap(text)
    inner = found.text.strip()
    if inner[:1] in "[{" or not looks_like_text_plan(inner):
        return Container(inner, found.container, None, found.query_text)
    try:
        top = parse_text_plan(inner)
    except TextPlanError as exc:
        raise UsageError(
            f"{source}: cannot read the text plan ({exc})",
            "give the whole EXPLAIN output, or capture it with FORMAT JSON",
        ) from None
    if found.query_text:
        top.setdefault("Query Text", found.query_text)
    return Container(inner, found.container, top, found.query_text)
