"""`schema docs --html`: every page of the documentation in one self-contained HTML file, with
the ER diagrams drawn by Mermaid's own script inlined (vendored, MIT; see ``vendor/README.md``):
no network, no CDN, it opens the same offline or as a mail attachment.

The Markdown pages are rendered with markdown-it (raw HTML in comments is escaped, not
injected), links between pages become links to sections of the one page, and each ``mermaid``
code block becomes a ``<pre class="mermaid">`` that the script turns into an SVG on load.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from dbadmin.errors import ConfigError
from dbadmin.schema.docs_markdown import GENERATED, INDEX

VENDOR = Path(__file__).resolve().parent / "vendor"
MERMAID_FILE = VENDOR / "mermaid.tiny.js.gz"
MERMAID_SHA256 = "9f2807e402479d2864bfd9a95052076fc69d0ff45a0b25148b84b70fc33425b9"
MERMAID_VERSION = "@mermaid-js/tiny 12.0.0"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1f21}
nav{position:fixed;top:0;bottom:0;left:0;width:17em;overflow:auto;padding:1em;
background:#f6f8fa;border-right:1px solid #ddd;font-size:.9em}
nav a{display:block;color:#0b57d0;text-decoration:none;padding:1px 0}
main{margin-left:19em;padding:1em 2em;max-width:80em}
section{border-top:1px solid #ddd;margin-top:2em}
h1{font-size:1.3em} h2{font-size:1.1em;margin:1.5em 0 .5em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:.3em .6em;
vertical-align:top;text-align:left} th{background:#f4f4f4}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
pre{background:#f6f8fa;padding:.8em;overflow:auto;border-radius:4px}
pre.mermaid{background:#fff;border:1px solid #eee}
"""


@lru_cache(maxsize=1)
def mermaid_script() -> str:
    """The vendored Mermaid script, checked against its recorded hash."""
    try:
        data = gzip.decompress(MERMAID_FILE.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the vendored Mermaid script {MERMAID_FILE}: {exc}",
            "reinstall dbadmin",
        ) from None
    if hashlib.sha256(data).hexdigest() != MERMAID_SHA256:
        raise ConfigError(f"{MERMAID_FILE} does not match its recorded hash", "reinstall dbadmin")
    return data.decode("utf-8").replace("</script", "<\\/script")


def anchor(path: str) -> str:
    return "p-" + re.sub(r"[^A-Za-z0-9_.-]", "-", path.removesuffix(".md"))


def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    # RendererHTML has `rules`; markdown-it types md.renderer as a protocol without it
    rules: dict[str, Any] = md.renderer.rules  # type: ignore[attr-defined]
    default_fence = rules["fence"]

    def fence(tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        if token.info.strip() == "mermaid":
            return f'<pre class="mermaid">{html.escape(token.content)}</pre>\n'
        return str(default_fence(tokens, idx, options, env))

    rules["fence"] = fence
    return md


def _relink(body: str, page: str) -> str:
    """``href`` to another page (relative to ``page``) -> that page's section."""
    folder = page.rsplit("/", 1)[0] if "/" in page else ""

    def target(match: re.Match[str]) -> str:
        href = html.unescape(match.group(1))
        if "://" in href or not href.endswith(".md"):
            return match.group(0)
        parts = [*(folder.split("/") if folder else []), *href.split("/")]
        resolved: list[str] = []
        for part in parts:
            if part == "..":
                if resolved:
                    resolved.pop()
            elif part not in ("", "."):
                resolved.append(part)
        return f'href="#{anchor("/".join(resolved))}"'

    return re.sub(r'href="([^"]*)"', target, body)


def render_html(pages: dict[str, str], title: str = "Database schema") -> str:
    """One page holding the index first, then every other page as a section."""
    md = _markdown()
    order = [INDEX, *(p for p in pages if p != INDEX)]
    sections = []
    nav = []
    for path in order:
        text = pages[path].replace(GENERATED + "\n", "")  # an HTML comment, shown as text
        body = md.render(text).replace("&lt;br&gt;", "<br>")
        body = _relink(body, path)
        sections.append(f'<section id="{anchor(path)}">{body}</section>')
        heading = pages[path].splitlines()[0].lstrip("# ").replace("`", "")
        nav.append(f'<a href="#{anchor(path)}">{html.escape(heading)}</a>')
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<nav>{''.join(nav)}</nav><main>{''.join(sections)}</main>"
        f"<script>{mermaid_script()}</script>"
        "<script>mermaid.initialize({startOnLoad:true,securityLevel:'strict',"
        "maxTextSize:10000000});</script>"
        f"<!-- diagrams drawn by {MERMAID_VERSION} (MIT), inlined -->"
        "</body></html>\n"
    )
