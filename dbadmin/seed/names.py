"""Realism from column and table names: what a column named ``email``, ``postal_code`` or
``is_active`` should hold, which column pairs are ordered (``rental_date``/``return_date``),
which tables are small lookup tables.

Rules are plain data (name fragments -> a shape) so adding one is a line, and each has a test.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from dbadmin.seed.text import FIRST_NAMES, LAST_NAMES, WORDS

CITIES = [
    "Amsterdam",
    "Athens",
    "Austin",
    "Bangalore",
    "Barcelona",
    "Berlin",
    "Bogota",
    "Boston",
    "Brisbane",
    "Brussels",
    "Cairo",
    "Chicago",
    "Copenhagen",
    "Dublin",
    "Edinburgh",
    "Geneva",
    "Hamburg",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Lagos",
    "Lima",
    "Lisbon",
    "London",
    "Lyon",
    "Madrid",
    "Manila",
    "Melbourne",
    "Milan",
    "Montreal",
    "Mumbai",
    "Munich",
    "Nairobi",
    "Oslo",
    "Osaka",
    "Paris",
    "Porto",
    "Prague",
    "Rome",
    "Santiago",
    "Seattle",
    "Seoul",
    "Singapore",
    "Stockholm",
    "Sydney",
    "Taipei",
    "Tokyo",
    "Toronto",
    "Valencia",
    "Vienna",
    "Warsaw",
    "Zurich",
]
COUNTRIES = (
    ("AR", "Argentina"), ("AU", "Australia"), ("AT", "Austria"), ("BE", "Belgium"),
    ("BR", "Brazil"), ("CA", "Canada"), ("CL", "Chile"), ("CN", "China"), ("CO", "Colombia"),
    ("DK", "Denmark"), ("EG", "Egypt"), ("FI", "Finland"), ("FR", "France"), ("DE", "Germany"),
    ("GR", "Greece"), ("IN", "India"), ("ID", "Indonesia"), ("IE", "Ireland"), ("IT", "Italy"),
    ("JP", "Japan"), ("KE", "Kenya"), ("MX", "Mexico"), ("NL", "Netherlands"),
    ("NZ", "New Zealand"), ("NG", "Nigeria"), ("NO", "Norway"), ("PE", "Peru"),
    ("PH", "Philippines"), ("PL", "Poland"), ("PT", "Portugal"), ("KR", "South Korea"),
    ("ES", "Spain"), ("SE", "Sweden"), ("CH", "Switzerland"), ("TW", "Taiwan"),
    ("TR", "Turkey"), ("GB", "United Kingdom"), ("US", "United States"),
)  # fmt: skip
LANGUAGES = [
    "English",
    "French",
    "German",
    "Spanish",
    "Italian",
    "Portuguese",
    "Dutch",
    "Japanese",
    "Chinese",
    "Korean",
    "Arabic",
    "Hindi",
    "Russian",
    "Polish",
    "Swedish",
    "Turkish",
]
CURRENCIES = [
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CHF",
    "CAD",
    "AUD",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "BRL",
    "INR",
    "CNY",
]
COMPANY_SUFFIXES = ("Ltd", "Inc", "GmbH", "Group", "Labs", "Partners", "Systems", "& Co")
STREETS = ("Street", "Avenue", "Road", "Lane", "Way", "Boulevard", "Place")

# names of small reference tables: they stay small unless a count is asked for explicitly
LOOKUP_TABLE = re.compile(
    r"^(languages?|countr(y|ies)|categor(y|ies)|status(es)?|states?|currenc(y|ies)|"
    r"types?|kinds?|roles?|regions?|genres?|tags?|priorit(y|ies)|levels?|units?|"
    r"\w+_(types?|kinds?|status(es)?|categor(y|ies)|levels?))$"
)
LOOKUP_ROWS = 20

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(name: str) -> list[str]:
    return _TOKEN.findall(name.lower())


def is_lookup_table(name: str) -> bool:
    return bool(LOOKUP_TABLE.match(name.lower()))


def is_flag(name: str) -> bool:
    """Integer columns used as booleans: ``active``, ``is_*``, ``has_*``, ``*_flag``..."""
    low = name.lower()
    return (
        low.startswith(("is_", "has_", "can_", "should_"))
        or low.endswith("_flag")
        or low in {"active", "enabled", "disabled", "deleted", "verified", "visible", "flag"}
    )


def int_range(name: str, now_year: int) -> tuple[int, int] | None:
    """A realistic range for an integer column without a CHECK, from its name."""
    words = set(tokens(name))
    if is_flag(name):
        return 0, 1
    if "year" in words:
        return now_year - 30, now_year
    if "age" in words:
        return 18, 90
    if words & {"rating", "stars"}:
        return 1, 5
    if words & {"count", "quantity", "qty", "copies", "seats"}:
        return 1, 100
    if words & {"length", "duration", "minutes"}:
        return 1, 240
    if words & {"percent", "percentage", "pct"}:
        return 0, 100
    return None


Shape = Callable[[random.Random], str]


def _company(r: random.Random) -> str:
    return f"{r.choice(LAST_NAMES)} {r.choice(COMPANY_SUFFIXES)}"


def _street(r: random.Random) -> str:
    return f"{r.randint(1, 999)} {r.choice(WORDS).title()} {r.choice(STREETS)}"


def _phone(r: random.Random) -> str:
    return f"+1-{r.randint(200, 989)}-555-{r.randint(0, 9999):04d}"


def _ip(r: random.Random) -> str:
    return f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _person(r: random.Random) -> str:
    return f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"


def _url(r: random.Random) -> str:
    return f"https://www.{r.choice(WORDS)}{r.choice(WORDS)}.example.com/{r.choice(WORDS)}"


def _email(r: random.Random) -> str:
    return f"{r.choice(FIRST_NAMES).lower()}.{r.choice(LAST_NAMES).lower()}@example.com"


# (predicate on the lower-cased name and its words, shape); the first match wins
TEXT_RULES: list[tuple[Callable[[str, set[str]], bool], Shape]] = [
    (lambda n, w: "email" in n, _email),
    (lambda n, w: bool(w & {"phone", "mobile", "fax", "telephone"}), _phone),
    (
        lambda n, w: bool(w & {"postal", "zip", "postcode", "zipcode"}),
        lambda r: f"{r.randint(10000, 99999)}",
    ),
    (lambda n, w: "city" in w or n == "town", lambda r: r.choice(CITIES)),
    (
        lambda n, w: "country" in w and bool(w & {"code", "iso"}),
        lambda r: r.choice(COUNTRIES)[0],
    ),
    (lambda n, w: "country" in w, lambda r: r.choice(COUNTRIES)[1]),
    (lambda n, w: bool(w & {"language", "lang"}), lambda r: r.choice(LANGUAGES)),
    (lambda n, w: "currency" in w, lambda r: r.choice(CURRENCIES)),
    (lambda n, w: bool(w & {"url", "uri", "website", "homepage", "link"}), _url),
    (lambda n, w: "ip" in w or "ip_address" in n, _ip),
    (lambda n, w: bool(w & {"company", "organization", "organisation", "employer"}), _company),
    (lambda n, w: "first" in w and "name" in w, lambda r: r.choice(FIRST_NAMES)),
    (
        lambda n, w: (bool(w & {"last", "family", "surname"}) and "name" in w) or n == "surname",
        lambda r: r.choice(LAST_NAMES),
    ),
    (
        lambda n, w: (
            n in {"name", "full_name", "display_name", "author", "customer", "contact"}
            or bool(w & {"fullname", "author"})
            or (n.endswith("_name") and bool(w & {"customer", "user", "person", "contact"}))
        ),
        _person,
    ),
    (lambda n, w: "username" in n or "login" in w, lambda r: f"{r.choice(FIRST_NAMES).lower()}"),
    (lambda n, w: bool(w & {"address", "street"}), _street),
]


# lookup tables whose plain "name"/"code" columns mean the table's subject
TABLE_SUBJECTS: dict[str, tuple[Shape, Shape | None]] = {
    "country": (lambda r: r.choice(COUNTRIES)[1], lambda r: r.choice(COUNTRIES)[0]),
    "language": (lambda r: r.choice(LANGUAGES), lambda r: r.choice(LANGUAGES)[:2].lower()),
    "city": (lambda r: r.choice(CITIES), None),
    "currency": (lambda r: r.choice(CURRENCIES), lambda r: r.choice(CURRENCIES)),
}
SUBJECT_NAME = {"name", "label", "title", "description"}
SUBJECT_CODE = {"code", "iso", "iso2", "iso_code", "alpha2", "short_name"}


def _subject(table: str) -> str:
    low = table.lower()
    for stem in ("countries", "currencies", "cities"):
        if low == stem:
            return {"countries": "country", "currencies": "currency", "cities": "city"}[stem]
    return low[:-1] if low.endswith("s") and low[:-1] in TABLE_SUBJECTS else low


def text_shape(name: str, table: str = "") -> Shape | None:
    low = name.lower()
    subject = TABLE_SUBJECTS.get(_subject(table))
    if subject is not None:
        if low in SUBJECT_NAME:
            return subject[0]
        if low in SUBJECT_CODE and subject[1] is not None:
            return subject[1]
    words = set(tokens(name))
    for test, shape in TEXT_RULES:
        if test(low, words):
            return shape
    return None


# ordered column pairs by name: replacing the first stem by the second names the later column
PAIR_STEMS = (
    ("starts", "ends"), ("start", "end"), ("begin", "end"), ("begins", "ends"),
    ("created", "updated"), ("created", "modified"), ("opened", "closed"), ("open", "close"),
    ("rented", "returned"), ("rental", "return"), ("borrowed", "returned"), ("loaned", "returned"),
    ("sent", "delivered"), ("shipped", "delivered"), ("ordered", "shipped"),
    ("valid_from", "valid_to"), ("valid_from", "valid_until"), ("birth", "death"),
    ("born", "died"), ("check_in", "check_out"), ("checkin", "checkout"), ("issued", "expires"),
    ("hired", "terminated"), ("departure", "arrival"), ("from", "to"), ("min", "max"),
)  # fmt: skip


def name_pairs(columns: list[str]) -> list[tuple[str, str]]:
    """(earlier, later) column pairs whose names imply an order."""
    present = set(columns)
    found: list[tuple[str, str]] = []
    for column in columns:
        low = column.lower()
        for first, second in PAIR_STEMS:
            for match in re.finditer(rf"(?<![a-z]){re.escape(first)}(?![a-z])", low):
                other = low[: match.start()] + second + low[match.end() :]
                partner = next((c for c in present if c.lower() == other), None)
                if partner and (column, partner) not in found:
                    found.append((column, partner))
    return found


def is_birth(name: str) -> bool:
    return bool(set(tokens(name)) & {"birth", "born", "birthday", "dob"})
