"""sensitive_columns: secrets that should be stored hashed or encrypted.

Without --sample the check judges names and types only (``password_hash`` of any type, ``bytea``
and non-text columns pass). With --sample it reads at most ``SAMPLE_LIMIT`` values of each text
column in one bounded query, never shows them, and tells hashes and ciphertexts from plain text.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from dbadmin.audit.context import SAMPLE_LIMIT, Audit, CheckUnknown
from dbadmin.audit.model import AuditCheck, Finding, Status, judged

HASHED_NAME = re.compile(r"(hash|digest|encrypted|crypt|cipher|hmac|_enc$|fingerprint)", re.I)
TEXT_CATEGORIES = {"S"}  # string types; numbers, dates and booleans hold no secret text
HASH_FORMATS = re.compile(
    r"^(\$(2[abxy]?|argon2(id|i|d)|scrypt|pbkdf2[-_a-z0-9]*|[156]|sha(256|512)|y|gy|7)\$"
    r"|pbkdf2_sha(1|256|512)\$|scrypt:|bcrypt\$|argon2\$|sha(1|256|512)\$"
    r"|\{(SSHA|SHA|SSHA256|SSHA512|CRYPT|PBKDF2)\}|SCRAM-SHA-256\$|md5[0-9a-f]{32}$"
    r"|-----BEGIN PGP MESSAGE-----|\\x)",
    re.I,
)
HEX_DIGEST = re.compile(r"^[0-9a-f]{32,128}$", re.I)
BASE64ISH = re.compile(r"^[A-Za-z0-9+/=_\-.:]{24,}$")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_protected(value: str) -> bool:
    """A known hash format, a hex digest, or a long high-entropy token (ciphertext, base64)."""
    v = value.strip()
    if HASH_FORMATS.match(v) or HEX_DIGEST.match(v):
        return True
    return bool(BASE64ISH.match(v)) and _entropy(v) >= 4.0


def check_sensitive_columns(a: Audit) -> AuditCheck:
    findings: list[Finding] = []
    columns = a.rows("sensitive_columns")
    judged_columns = [r for r in columns if r["category"] in TEXT_CATEGORIES]
    for r in judged_columns:
        name = f"{r['schema']}.{r['table']}.{r['column']}"
        if not a.options.sample:
            if not HASHED_NAME.search(r["column"]):
                findings.append(
                    Finding(
                        Status.WARNING,
                        name,
                        f"{r['type']} named like a secret, not like a hash: stored in clear? "
                        "(--sample reads up to 100 values to tell)",
                        note="store a hash (bcrypt/argon2 in the application, or pgcrypto's "
                        "crypt()) or encrypt it; or rename it if it holds a hash",
                    )
                )
            continue
        try:
            values = a.session.sample(r["schema"], r["table"], r["column"], SAMPLE_LIMIT)
        except CheckUnknown as exc:
            findings.append(Finding(Status.UNKNOWN, name, f"cannot sample: {exc}"))
            continue
        plain = sum(1 for v in values if not looks_protected(v))
        if plain:
            findings.append(
                Finding(
                    Status.CRITICAL,
                    name,
                    f"{plain} of {len(values)} sampled values do not look hashed or encrypted",
                    note="hash or encrypt these values in the application and rewrite them",
                )
            )
    how = f"sampled up to {SAMPLE_LIMIT} values each" if a.options.sample else "by name and type"
    return judged(
        "sensitive_columns",
        findings,
        f"{len(columns)} secret-like columns, {len(judged_columns)} text ones judged {how}: "
        "all look hashed or encrypted",
        "secrets belong in the database hashed (passwords) or encrypted (tokens, keys)",
    )
