"""`dbadmin schema docs`: documentation and ER diagrams that stay true, against a real server.

The Mermaid checker below (``parse_er``) enforces the rules of Mermaid's ER grammar that
``dbadmin/schema/docs_mermaid.py`` relies on (erDiagram.jison; the same rules are in the
vendored mermaid.tiny.js): it refuses anything else, and counts entities and relationships.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Cli, PgServer, run_dbadmin

from dbadmin.errors import ExitCode
from dbadmin.schema.docs_mermaid import quoted, word
from dbadmin.urls import DbUrl

REPO = Path(__file__).resolve().parent.parent
APP_DOCS = REPO / "docs" / "schema"

# --- a checker for the Mermaid erDiagram rules the generator relies on ---------------------------
# a quoted entity name (lexer rule ENTITY_NAME); JS \b inside a class is backspace
ENTITY = r'"[^"%\r\n\x0b\x08\\]+"'
# attribute words: the intersection of Mermaid 10-12 (11.x+ also allows '.' and ',')
WORD = r"[*A-Za-z_\u00c0-\uffff][A-Za-z0-9\-_\[\]()*\u00c0-\uffff]*"
KEYS = r"(?:PK|FK|UK)(?:, (?:PK|FK|UK))*"
ENTITY_LINE = re.compile(rf"^    (?P<name>{ENTITY})(?P<open> \{{)?$")
ATTRIBUTE_LINE = re.compile(
    rf'^        (?P<type>{WORD}) (?P<name>{WORD})(?: (?P<keys>{KEYS}))?(?: "[^"]*")?$'
)
RELATIONSHIP_LINE = re.compile(
    rf"^    (?P<a>{ENTITY}) (?:\}}o|\|o)(?:--|\.\.)(?:\|\||o\|) (?P<b>{ENTITY}) : {ENTITY}$"
)
DIRECTION = re.compile(r"(?i)direction\s+(?:TB|BT|RL|LR)")  # the lexer's first rules
REWRITTEN = re.compile(r"style.*:\S*#.*;|classDef.*:\S*#.*;")  # Mermaid's encodeEntities
KEY_TOKEN = re.compile(r"(?i)^(?:pk|fk|uk)(?![A-Za-z0-9_])")  # \b(PK|FK|UK)\b in a block


@dataclass
class ErDiagram:
    entities: list[str] = field(default_factory=list)
    relationships: list[tuple[str, str]] = field(default_factory=list)


def decode(name: str) -> str:
    """A quoted name as Mermaid draws it: quotes off, #NN; entity codes back to characters."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), name[1:-1])


def parse_er(source: str) -> ErDiagram:
    lines = source.split("\n")
    assert lines[0] == "erDiagram" and lines[-1] == "", "starts with erDiagram, ends with a newline"
    found = ErDiagram()
    in_block = False
    for line in lines[1:-1]:
        assert not DIRECTION.search(line), f"lexes as a direction statement: {line!r}"
        assert not REWRITTEN.search(line), f"Mermaid would rewrite: {line!r}"
        for text in re.findall(r'"[^"]*"', line):
            bare = re.sub(r"#\d+;", "", text)
            assert "#" not in bare, f"a bare '#' would start an entity code: {line!r}"
            assert "`" not in bare, f"a backtick would end the Markdown fence: {line!r}"
        if in_block:
            if line == "    }":
                in_block = False
                continue
            match = ATTRIBUTE_LINE.match(line)
            assert match, f"not an attribute: {line!r}"
            for part in ("type", "name"):
                assert not KEY_TOKEN.match(match.group(part)), f"lexes as a key: {line!r}"
                assert "~" not in match.group(part)
            continue
        if match := ENTITY_LINE.match(line):
            assert match.group("name") not in found.entities, f"entity twice: {line!r}"
            found.entities.append(match.group("name"))
            in_block = bool(match.group("open"))
            continue
        match = RELATIONSHIP_LINE.match(line)
        assert match, f"neither entity nor relationship: {line!r}"
        for end in ("a", "b"):
            assert match.group(end) in found.entities, f"undeclared entity in {line!r}"
        found.relationships.append((match.group("a"), match.group("b")))
    assert not in_block, "unclosed entity block"
    return found


ODD = [
    'Order "Items" %\\#',
    "direction TB",
    "DIRECTION\tlr",
    "Größe",
    "ÜberTabelle 📦",
    "end",
    "one",
    "many to many",
    "style: x #1;",
    "classDef:a#b;",
    "a`b``c",
    "1st",
    "pk",
    "FK-x",
    "tab\u00a0nbsp\ufeff",
    "line\nbreak",
    "u-turn",
    "o|",
]


@pytest.mark.parametrize("name", ODD)
def test_odd_names_are_valid_and_come_back(name: str) -> None:
    """Any identifier becomes a valid quoted name that Mermaid draws as the identifier, and a
    valid attribute word."""
    text = quoted(name)
    assert re.fullmatch(ENTITY, text), text
    assert decode(text) == name
    source = f"erDiagram\n    {text} {{\n        {word(name)} {word(name)} PK\n    }}\n"
    source += f"    {text} }}o..o| {text} : {quoted(name)}\n"
    assert parse_er(source).relationships == [(text, text)]


@pytest.mark.parametrize(
    ("rows", "size", "shown"),
    [
        (None, 0, ("never analyzed", "≈ 0 B")),
        (7, 8192, ("≈ 7", "≈ 8.0 kB")),
        (12_345, 16_384, ("≈ 12,000", "≈ 16 kB")),
        (987_654, 1_047_552, ("≈ 990,000", "≈ 1,000 kB")),
        (1_234_567, 1_293_942, ("≈ 1,200,000", "≈ 1.2 MB")),
    ],
)
def test_stats_are_rounded_to_two_figures(
    rows: int | None, size: int, shown: tuple[str, str]
) -> None:
    from dbadmin.schema.docs_markdown import approx_rows, approx_size
    from dbadmin.schema.docs_model import Stats

    assert (approx_rows(Stats(rows, size)), approx_size(Stats(rows, size))) == shown


# --- a schema with every kind of object -----------------------------------------------------------
SHOP = r"""
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'The shop: customers, orders, events.';
CREATE TYPE shop.order_status AS ENUM ('new', 'paid', 'shipped');
COMMENT ON TYPE shop.order_status IS 'Where an order is.';
CREATE DOMAIN shop.email AS text NOT NULL CHECK (VALUE LIKE '%@%');
COMMENT ON DOMAIN shop.email IS 'An address with an at sign.';
CREATE DOMAIN shop.cents AS bigint DEFAULT 0 CONSTRAINT cents_positive CHECK (VALUE >= 0);
CREATE TABLE shop.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email shop.email UNIQUE,
    referred_by bigint REFERENCES shop.customers (id),
    tenant text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE shop.customers IS E'People who buy.\nA second line | with a pipe.';
COMMENT ON COLUMN shop.customers.email IS 'Login; unique.';
COMMENT ON CONSTRAINT customers_referred_by_fkey ON shop.customers IS 'Who brought them.';
CREATE TABLE shop.orders (
    customer_id bigint NOT NULL REFERENCES shop.customers,
    order_no int NOT NULL,
    status shop.order_status NOT NULL DEFAULT 'new',
    tags shop.order_status[],
    total shop.cents,
    PRIMARY KEY (customer_id, order_no),
    CONSTRAINT order_no_positive CHECK (order_no > 0)
);
COMMENT ON TABLE shop.orders IS E'One purchase.\n\n```sql\nSELECT 1 -- a fence left open\n\n<!-- and an HTML comment';
CREATE INDEX orders_open ON shop.orders (status) WHERE status <> 'shipped';
CREATE TABLE shop.order_lines (
    customer_id bigint NOT NULL,
    order_no int NOT NULL,
    line int NOT NULL,
    sku text,
    PRIMARY KEY (customer_id, order_no, line),
    CONSTRAINT lines_order FOREIGN KEY (customer_id, order_no) REFERENCES shop.orders
        ON DELETE CASCADE
);
CREATE TABLE shop.profiles (
    customer_id bigint PRIMARY KEY REFERENCES shop.customers,
    bio text
);
CREATE TABLE shop.events (
    id bigint NOT NULL,
    at timestamptz NOT NULL,
    kind text,
    customer_id bigint REFERENCES shop.customers,
    payload jsonb,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
COMMENT ON TABLE shop.events IS 'Click stream, partitioned by time.';
CREATE TABLE shop.events_2025 PARTITION OF shop.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.events_2026 PARTITION OF shop.events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY HASH (id);
CREATE TABLE shop.events_2026_h0 PARTITION OF shop.events_2026
    FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE shop.events_2026_h1 PARTITION OF shop.events_2026
    FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE shop.event_notes (
    event_id bigint NOT NULL,
    at timestamptz NOT NULL,
    note text,
    FOREIGN KEY (event_id, at) REFERENCES shop.events
);
ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_orders ON shop.orders FOR SELECT USING (current_user = 'shop');
CREATE POLICY small_orders ON shop.orders AS RESTRICTIVE FOR INSERT TO PUBLIC
    WITH CHECK (order_no < 1000);
COMMENT ON POLICY own_orders ON shop.orders IS 'Only the shop role reads orders.';
ALTER TABLE shop.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE shop.customers FORCE ROW LEVEL SECURITY;
CREATE VIEW shop.paid_orders AS SELECT customer_id, order_no FROM shop.orders WHERE status = 'paid';
COMMENT ON VIEW shop.paid_orders IS 'Orders that were paid.';
CREATE MATERIALIZED VIEW shop.order_totals AS
    SELECT customer_id, sum(total) AS total FROM shop.orders GROUP BY customer_id;
CREATE UNIQUE INDEX order_totals_customer ON shop.order_totals (customer_id);
COMMENT ON MATERIALIZED VIEW shop.order_totals IS 'Revenue per customer.';
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch();
COMMENT ON TRIGGER orders_touch ON shop.orders IS 'Keeps rows fresh.';

CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Order ""Items"" %\#" (
    id int PRIMARY KEY, "direction TB" text, pk int, "Größe" numeric(10,2), "1st" int
);
COMMENT ON TABLE "Odd Schema"."Order ""Items"" %\#" IS 'Odd | name `with` ticks';
CREATE TABLE "Odd Schema"."direction LR" (
    id int PRIMARY KEY,
    item_id int REFERENCES "Odd Schema"."Order ""Items"" %\#" (id)
);
CREATE TABLE "Odd Schema"."ÜberTabelle 📦" (id int, ref int REFERENCES shop.customers (id));
CREATE TABLE "Odd Schema"."end" (id int);
CREATE TABLE "Odd Schema"."MixedCase" (id int UNIQUE, "style" text);
"""
SHOP_TABLES = {
    "shop.customers",
    "shop.orders",
    "shop.order_lines",
    "shop.profiles",
    "shop.events",
    "shop.event_notes",
    'Odd Schema.Order "Items" %\\#',
    "Odd Schema.direction LR",
    "Odd Schema.ÜberTabelle 📦",
    "Odd Schema.end",
    "Odd Schema.MixedCase",
}
# self, composite, 1:1, cross-schema, odd-named, orders -> customers, from and to a partitioned
# table (PostgreSQL clones those onto every partition: still one relationship each)
SHOP_FKS = 8


@pytest.fixture
def shop_db(fresh_db: DbUrl, pg_server: PgServer) -> DbUrl:
    pg_server.execute(SHOP, fresh_db.database or "")
    return fresh_db


def _docs(cli: Cli, url: DbUrl, *args: str) -> tuple[int, str, str]:
    res = cli("schema", "docs", "-d", url.render(), *args)
    return res.exit_code, res.stdout, res.stderr


def test_every_object_is_documented(cli: Cli, shop_db: DbUrl, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    code, _, stderr = _docs(cli, shop_db, "--out", str(out))
    assert code == 0, stderr
    pages = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.md")}
    tables = {k: v for k, v in pages.items() if k.startswith("tables/")}
    assert len(tables) == len(SHOP_TABLES)  # partitions are documented on their root's page
    index = pages["README.md"]
    for name in SHOP_TABLES:
        assert f"`{name}`" in index or f"`` {name} ``" in index, name
    customers = pages["tables/shop.customers.md"]
    assert "People who buy.\nA second line | with a pipe." in customers  # the comment is prose
    assert "Row-level security: enabled and forced" in customers
    assert "Login; unique." in customers and "Who brought them." in customers
    assert "[`shop.email`](../types/shop.email.md)" in customers
    assert "## Referenced by" in customers and "`lines_order`" not in customers
    orders = pages["tables/shop.orders.md"]
    # the comment's open fence is closed and its HTML comment opener shown as text, so the
    # rest of the page still renders
    assert "SELECT 1 -- a fence left open\n\n&lt;!-- and an HTML comment\n```\n" in orders
    for text in (
        "`order_no_positive`",
        "CHECK ((order_no > 0))",
        "`orders_open`",
        "WHERE (status <> 'shipped'::shop.order_status)",
        "`orders_touch`",
        "Keeps rows fresh.",
        "`own_orders`",
        "restrictive",
        "Only the shop role reads orders.",
        "[`shop.paid_orders`](../views/shop.paid_orders.md)",
        "[`shop.order_totals`](../views/shop.order_totals.md)",
        "[`shop.order_status`](../types/shop.order_status.md)",
        "[`shop.order_status[]`](../types/shop.order_status.md)",
        "ON DELETE CASCADE",
        "Row-level security: enabled.",
    ):
        assert text in orders, text
    events = pages["tables/shop.events.md"]
    assert "Partitioned by `RANGE (at)`" in events
    for part in (
        "shop.events_2025",
        "shop.events_2026",
        "shop.events_2026_h0",
        "shop.events_2026_h1",
    ):
        assert f"`{part}`" in events
    assert "`HASH (id)`" in events and "FOR VALUES WITH (modulus 2, remainder 1)" in events
    assert events.count("`events_customer_id_fkey`") == 1  # not once more per partition
    assert "Orders that were paid." in pages["views/shop.paid_orders.md"]
    totals = pages["views/shop.order_totals.md"]
    assert "# Materialized view" in totals and "`order_totals_customer`" in totals
    assert "[`shop.orders`](../tables/shop.orders.md)" in totals
    status = pages["types/shop.order_status.md"]
    assert "`shipped`" in status and "shop.orders.tags" in status
    email = pages["types/shop.email.md"]
    assert "NULL not allowed" in email and "CHECK ((VALUE ~~ '%@%'::text))" in email
    assert "`cents_positive`" in pages["types/shop.cents.md"]
    odd = next(v for k, v in tables.items() if k.startswith("tables/odd-schema-"))
    assert odd and all(re.fullmatch(r"tables/[a-z0-9_.-]+\.md", k) for k in tables)


def _diagrams(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?\n)```", text, flags=re.S)


def test_diagram_has_one_entity_per_table_and_one_relationship_per_fk(
    cli: Cli, shop_db: DbUrl, tmp_path: Path
) -> None:
    out = tmp_path / "docs"
    assert _docs(cli, shop_db, "--out", str(out))[0] == 0
    (source,) = _diagrams((out / "README.md").read_text())
    diagram = parse_er(source)
    assert sorted(decode(e) for e in diagram.entities) == sorted(SHOP_TABLES)
    assert len(diagram.relationships) == SHOP_FKS
    self_fk = ('"shop.customers"', '"shop.customers"')
    assert self_fk in diagram.relationships
    assert '"shop.order_lines" }o--|| "shop.orders" : "lines_order"' in source  # identifying
    assert '"shop.profiles" |o--|| "shop.customers"' in source  # 1:1: unique FK columns
    assert '"shop.customers" }o..o| "shop.customers"' in source  # nullable FK
    # every page's neighbourhood diagram is valid, and lists the table's FKs both ways
    for page in (out / "tables").glob("*.md"):
        (neighbours,) = _diagrams(page.read_text())
        parse_er(neighbours)
    customers = parse_er(_diagrams((out / "tables" / "shop.customers.md").read_text())[0])
    assert len(customers.relationships) == 5  # self, orders, profiles, ÜberTabelle, events
    json_doc = cli("schema", "docs", "-d", shop_db.render(), "--format", "json").json()
    assert [d["relationships"] for d in json_doc["diagrams"]] == [SHOP_FKS]  # type: ignore[index]
    assert len(json_doc["catalog"]["tables"]) == len(SHOP_TABLES)  # type: ignore[index]


def mermaid_read(sources: list[str], tmp_path: Path) -> list[dict]:
    """What the vendored Mermaid itself reads from each source (run under node)."""
    from dbadmin.schema.docs_html import MERMAID_FILE

    files = []
    for n, source in enumerate(sources):
        files.append(tmp_path / f"diagram{n}.mmd")
        files[-1].write_text(source)
    script = Path(__file__).with_name("mermaid_parse.js")
    out = subprocess.run(
        ["node", str(script), str(MERMAID_FILE), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def drawn(label: str) -> str:
    """An entity label as Mermaid draws it (its encoded entity codes back to characters)."""
    return re.sub(r"\ufb02\u00b0\u00b0(\d+)\u00b6\u00df", lambda m: chr(int(m.group(1))), label)


@pytest.mark.skipif(shutil.which("node") is None, reason="node (Debian's nodejs) is not installed")
def test_the_real_mermaid_parses_every_diagram(cli: Cli, shop_db: DbUrl, tmp_path: Path) -> None:
    """Beyond our own grammar check: Mermaid's parser reads every diagram we write, sees each
    table as one entity with its exact name and each foreign key as one relationship."""
    out = tmp_path / "docs"
    assert _docs(cli, shop_db, "--out", str(out))[0] == 0
    pages = [out / "README.md", *sorted((out / "tables").glob("*.md"))]
    sources = [s for page in pages for s in _diagrams(page.read_text())]
    assert len(sources) == len(pages)
    odd = "erDiagram\n" + "".join(
        f"    {quoted(name)} {{\n        {word(name)} {word(name)} PK\n    }}\n" for name in ODD
    )
    results = mermaid_read([*sources, odd], tmp_path)
    assert [r["error"] for r in results if not r["ok"]] == []
    overview = results[0]
    assert sorted(map(drawn, overview["entities"])) == sorted(SHOP_TABLES)
    assert len(overview["rels"]) == SHOP_FKS
    assert [drawn(e) for e in results[-1]["entities"]] == ODD


def test_regeneration_is_byte_identical_and_check_names_the_new_column(
    cli: Cli, shop_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    out = tmp_path / "docs"
    assert _docs(cli, shop_db, "--out", str(out))[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, stdout, _ = _docs(cli, shop_db, "--out", str(out))
    assert code == 0 and "up to date" in stdout
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    code, stdout, _ = _docs(cli, shop_db, "--out", str(out), "--check")
    assert code == 0, stdout
    pg_server.execute("ALTER TABLE shop.orders ADD COLUMN gift_note text", shop_db.database or "")
    code, stdout, stderr = _docs(cli, shop_db, "--out", str(out), "--check")
    assert code == ExitCode.PROBLEM, stderr
    assert "changed: " in stdout and "tables/shop.orders.md" in stdout
    assert "+| `gift_note` | `text` | yes |" in stdout
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing written
    # a dropped table: its page is stale, and a write removes it
    pg_server.execute("DROP TABLE shop.profiles", shop_db.database or "")
    code, stdout, _ = _docs(cli, shop_db, "--out", str(out), "--check")
    assert code == ExitCode.PROBLEM and "removed: " in stdout and "shop.profiles.md" in stdout
    assert _docs(cli, shop_db, "--out", str(out))[0] == 0
    assert not (out / "tables" / "shop.profiles.md").exists()
    assert _docs(cli, shop_db, "--out", str(out), "--check")[0] == 0


def test_schema_selection_stats_and_errors(cli: Cli, shop_db: DbUrl, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    code, _, stderr = _docs(cli, shop_db, "--out", str(out), "--schema", "shop", "--stats")
    assert code == 0, stderr
    index = (out / "README.md").read_text()
    assert "Odd Schema" not in index and "| rows | size |" in index
    assert '"customers"' in index  # one schema: entities without the schema prefix
    customers = (out / "tables" / "shop.customers.md").read_text()
    assert "| `Odd Schema.ÜberTabelle 📦` |" in customers  # not documented: no link
    code, _, stderr = _docs(cli, shop_db, "--schema", "nope")
    assert code == ExitCode.USAGE and "unknown schema 'nope'" in stderr
    code, _, stderr = _docs(cli, shop_db, "--format", "json", "--check")
    assert code == ExitCode.USAGE
    (tmp_path / "a-file").write_text("")
    code, _, stderr = _docs(cli, shop_db, "--out", str(tmp_path / "a-file"))
    assert code == ExitCode.PROBLEM and stderr.startswith("dbadmin: error: cannot write ")
    assert len(stderr.splitlines()) == 1


def test_html_is_one_page_with_the_script_inlined(cli: Cli, shop_db: DbUrl, tmp_path: Path) -> None:
    target = tmp_path / "schema.html"
    code, _, stderr = _docs(cli, shop_db, "--html", str(target))
    assert code == 0, stderr
    page = target.read_text()
    assert "mermaid.initialize(" in page and 'globalThis["mermaid"]' in page
    assert "<script src" not in page and "https://cdn" not in page
    assert page.count('<pre class="mermaid">') == len(SHOP_TABLES) + 1
    assert 'href="#p-tables-shop.orders"' in page and 'id="p-tables-shop.orders"' in page
    assert "Odd | name <code>with</code> ticks" in page  # comments are rendered, not injected
    assert not (tmp_path / "docs").exists()


def test_more_than_40_tables_get_one_diagram_per_connected_component(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    """45 tables: a chain of 20, a star of 15, 10 loners -> three diagrams, nothing lost."""
    statements = ["CREATE TABLE c00 (id int PRIMARY KEY)", "CREATE TABLE s00 (id int PRIMARY KEY)"]
    statements += [
        f"CREATE TABLE c{i:02} (id int PRIMARY KEY, prev int REFERENCES c{i - 1:02})"
        for i in range(1, 20)
    ]
    statements += [
        f"CREATE TABLE s{i:02} (id int PRIMARY KEY, hub int REFERENCES s00)" for i in range(1, 15)
    ]
    statements += [f"CREATE TABLE z{i:02} (id int)" for i in range(10)]
    pg_server.execute(";".join(statements), fresh_db.database or "")
    out = tmp_path / "docs"
    assert _docs(cli, fresh_db, "--out", str(out))[0] == 0
    index = (out / "README.md").read_text()
    diagrams = [parse_er(source) for source in _diagrams(index)]
    assert [len(d.entities) for d in diagrams] == [20, 15, 10]
    assert [len(d.relationships) for d in diagrams] == [19, 14, 0]
    assert "## Diagram: Tables connected to public.c00 (20 tables)" in index
    assert "## Diagram: Tables without foreign keys (public.z00 to public.z09)" in index


# --- the project's own schema ----------------------------------------------------------------------
def test_app_schema_docs_are_up_to_date(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    """docs/schema/ is what `dbadmin schema docs` writes for a database migrated to head.

    Regenerate: DBADMIN_UPDATE_SCHEMA_DOCS=1 .venv/bin/python -m pytest -q tests/test_schema_docs.py -k app_schema
    """
    if os.environ.get("DBADMIN_UPDATE_SCHEMA_DOCS") == "1":
        code, stdout, stderr = _docs(cli, app_db, "--out", str(APP_DOCS))
        assert code == 0, stderr
    copy = tmp_path / "committed"
    if APP_DOCS.exists():
        shutil.copytree(APP_DOCS, copy)
    code, stdout, stderr = _docs(cli, app_db, "--out", str(copy), "--check")
    assert code == 0, (
        "docs/schema/ no longer matches the migrations; regenerate with "
        "DBADMIN_UPDATE_SCHEMA_DOCS=1 .venv/bin/python -m pytest -q tests/test_schema_docs.py "
        f"-k app_schema\n{stdout}{stderr}"
    )
    (source,) = _diagrams((copy / "README.md").read_text())
    parse_er(source)


def test_on_the_embedded_default_after_migrate_up_docs_match(tmp_path: Path) -> None:
    """No URL anywhere: `migrate up` then `schema docs --check` on the embedded default server
    agree with the committed docs/schema/ (the by-hand way to regenerate them)."""
    env = {"DBADMIN_HOME": str(tmp_path / "home")}  # conftest removed any DATABASE_URL

    def dbadmin(*args: str) -> subprocess.CompletedProcess[str]:
        return run_dbadmin(*args, env=env, cwd=str(tmp_path), timeout=180)

    try:
        migrated = dbadmin("migrate", "up")
        assert migrated.returncode == 0, migrated.stderr
        checked = dbadmin("schema", "docs", "--check", "--out", str(APP_DOCS))
        assert "embedded PostgreSQL" in checked.stderr
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "up to date" in checked.stdout
    finally:
        dbadmin("local", "destroy", "--yes")
