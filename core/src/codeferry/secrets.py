"""The secret policy: what counts as a secret, the secrets this process has seen, and masking them.

Core and every plugin decide these questions here, and nowhere else:

- :func:`is_secret_name` says whether a name (an environment variable, a step argument, a storage
  option, a block field) is one whose value is a secret.
- :func:`remember` and :func:`remember_named` add the secret values a piece of code is given to
  one registry for the whole process. It is a registry rather than per-run context because the
  threads that stream a program's output, and the threads of client libraries, must see it too.
- :func:`mask` replaces every remembered value in a text, in each form it travels in (as is,
  URL-encoded, JSON- and Python-escaped, inside any base64 text such as HTTP Basic's
  ``base64(user:secret)``), and text shaped like a credential even when it was never remembered:
  credentials in URLs, ``AccountKey=``, ``SharedAccessSignature=``, a SAS ``sig=``,
  ``Password=``, ``Authorization:`` header values, private key blocks, GitHub, GitLab, Google
  and Slack tokens.

The command line masks everything it prints (:func:`codeferry.masked_output.masked_stdio`);
library code masks what it shows (errors, logs, progress, streamed output) with :func:`mask`, and
``str()`` of every :class:`~codeferry.errors.CodeferryError` is masked. A plugin remembers
what it is given that is secret and the core does the rest::

    from codeferry.secrets import mask, remember

    remember(token)
    raise PullError(mask(f"cannot reach {url}: {server_answer}"))

Values shorter than :data:`MIN_LENGTH` characters, and words such as ``true`` or ``none``, are
never remembered: masking them would blank out half of every message.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "forget",
    "is_secret_name",
    "mask",
    "redact_url",
    "remember",
    "remember_named",
    "split_url_credentials",
]

MASK = "********"
MIN_LENGTH = 3
# Values that are settings, not secrets, even under a secret-looking name (AUTH_ENABLED=true).
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "none", "null", "on", "off"})
_MAX_DEPTH = 32  # structures nested deeper than this hold no secret we look for

# -- names -------------------------------------------------------------------------------------

# Inside a name: `PGPASSWORD`, `aws_secret_access_key`, `clientSecret`, `connection_string`.
_SECRET_IN_NAME = re.compile(
    r"passw(?:or)?d|passphrase|secret|token|credential|private_?key|api_?key|access_?key"
    r"|account_?key|connection_?string|signature|cookie|authorization",
    re.IGNORECASE,
)
# Whole words only: `key`, `auth` and `sas` are secrets, `keyboard`, `author` and `sassy` are not.
_SECRET_WORDS = frozenset(
    {"key", "keys", "pkey", "keyfile", "auth", "sas", "sig", "pwd", "pass", "pat", "jwt"}
)
_WORD_BOUNDARY = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    """Whether a value named ``name`` is a secret: ``GITHUB_TOKEN``, ``connection_string``, ``key``.

    The one rule for environment variables, step arguments, storage options, block fields and
    settings. Whole words decide for short ones: ``auth`` and ``key`` are secret names,
    ``author`` and ``keyboard`` are not.
    """
    if _SECRET_IN_NAME.search(name):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD_BOUNDARY.split(name) if word)


# -- the registry ------------------------------------------------------------------------------

_lock = threading.Lock()
_values: set[str] = set()
_compiled: tuple[re.Pattern[str] | None, re.Pattern[str] | None] | None = (None, None)


def remember(*values: Any) -> None:
    """Remember every secret value in ``values``, to be masked from now on in this process.

    Strings and text bytes are secrets; so is everything in a mapping (its values), a list, a
    tuple or a set, and the value of a pydantic ``SecretStr``, ``SecretBytes`` or ``Secret``.
    A pydantic model (a block) is not a secret itself: its secret fields are remembered, as
    :func:`remember_named` finds them. A multi-line value is remembered line by line too, and a
    credential-shaped one (a connection string, a URL with a password) by its secret parts too.
    """
    found: set[str] = set()
    for value in values:
        _collect(value, found, secret=True, whole=True, depth=0)
    _add(found)


def remember_named(value: Any) -> None:
    """Remember the secrets inside a structure: values under secret names, and secret types.

    For step arguments, storage options, environments, blocks: in a mapping (or the fields of a
    pydantic model), the strings under a key for which :func:`is_secret_name` is true are
    remembered, with the strings of a list under it; pydantic secret types are remembered
    wherever they are; other strings only for their credential-shaped parts (the password of a
    URL, the ``AccountKey`` of a connection string).
    """
    found: set[str] = set()
    _collect(value, found, secret=False, whole=False, depth=0)
    _add(found)


def forget() -> None:
    """Forget every remembered secret (for tests, which run many commands in one process)."""
    global _compiled
    with _lock:
        _values.clear()
        _compiled = (None, None)


def _add(found: set[str]) -> None:
    global _compiled
    fresh = {value for value in found if _worth_remembering(value)}
    with _lock:
        fresh -= _values
        if fresh:
            _values.update(fresh)
            _compiled = None  # rebuilt by the next mask()


def _worth_remembering(value: str) -> bool:
    return len(value) >= MIN_LENGTH and value.strip().lower() not in _NOT_SECRETS


def _collect(value: Any, found: set[str], *, secret: bool, whole: bool, depth: int) -> None:
    """Add the secrets in ``value`` to ``found``.

    ``secret``: a string here is a secret (it sits under a secret name, or in a list that does);
    ``whole``: every string below is a secret (``value`` was given as one).
    """
    if depth > _MAX_DEPTH or value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode()
        except UnicodeDecodeError:
            return
    if isinstance(value, str):
        # Under a secret name, a path is where the secret is (a key file), not the secret.
        _collect_text(value, found, secret=whole or (secret and not _names_a_file(value)))
    elif not _collect_pydantic(value, found, depth):
        _collect_items(value, found, secret=secret, whole=whole, depth=depth)


def _collect_text(text: str, found: set[str], *, secret: bool) -> None:
    if secret:
        found.add(text)
        if "\n" in text:  # a program may print a key or a document one line at a time
            lines = (line.strip() for line in text.splitlines())
            found.update(line for line in lines if not line.startswith("-----"))  # PEM armour
    found.update(_credential_parts(text))


def _names_a_file(text: str) -> bool:
    """Whether ``text`` is the path of an existing file (a key file's, not the key)."""
    if not text.startswith(("/", "~", "./")) or "\n" in text:
        return False
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def _collect_pydantic(value: Any, found: set[str], depth: int) -> bool:
    """Collect from a pydantic secret or model; ``False`` when ``value`` is neither."""
    pydantic = sys.modules.get("pydantic")  # a value cannot be pydantic's unless it is imported
    if pydantic is None:
        return False
    if isinstance(value, pydantic.SecretStr | pydantic.SecretBytes | pydantic.Secret):
        _collect(value.get_secret_value(), found, secret=True, whole=True, depth=depth + 1)
        return True
    if isinstance(value, pydantic.BaseModel):  # not a secret itself: its secret fields are
        for name in type(value).model_fields:
            item = getattr(value, name, None)
            _collect(item, found, secret=is_secret_name(name), whole=False, depth=depth + 1)
        return True
    return False


def _collect_items(value: Any, found: set[str], *, secret: bool, whole: bool, depth: int) -> None:
    if isinstance(value, Mapping):
        named = {key for key in value if isinstance(key, str) and is_secret_name(key)}
        # A secret mapping whose keys say which entries are secret (a service account's JSON:
        # private_key, beside project_id and client_email) is remembered by those entries.
        by_name = not whole or bool(named)
        for key, item in value.items():
            here = key in named if by_name else True
            _collect(item, found, secret=here, whole=whole and here, depth=depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, found, secret=secret, whole=whole, depth=depth + 1)


# Connection strings (Azure, databases) and SAS query strings: the parts that are secrets.
_CREDENTIAL_PAIR = re.compile(
    r"(?:^|[;&?\s])(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|sig)"
    r"=([^;&\s'\"]+)",
    re.IGNORECASE,
)


def _credential_parts(text: str) -> list[str]:
    """The secret parts of a credential-shaped string (which itself may not be secret)."""
    parts = [match.group(1) for match in _CREDENTIAL_PAIR.finditer(text)]
    if "://" in text:
        for url in _URL_IN_TEXT.findall(text):
            _, user, password = split_url_credentials(url)
            if password:
                parts.append(urllib.parse.unquote(password))
            elif user and url.lower().startswith(("http://", "https://")):
                # https://TOKEN@host carries a bare token as the user; ssh://git@host a login
                parts.append(urllib.parse.unquote(user))
    return parts


# -- the forms a secret travels in ---------------------------------------------------------------


def _forms(secret: str) -> set[str]:
    """``secret`` as written in text: as is, URL-encoded, JSON- and Python-escaped."""
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }
    for form in list(forms):
        if "%" in form:  # some encoders write the hex digits in lower case
            forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form))
    return {form for form in forms if len(form) >= MIN_LENGTH}


_MIN_BASE64_CORE = 4  # shorter runs of base64 are found in ordinary words


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that encode ``secret`` wherever it sits in a longer base64 text.

    Base64 turns 3 bytes into 4 characters, so text before the secret (``user:``) shifts it to
    one of three alignments; in each, the characters made only of the secret's bits are fixed.
    Finding one of them in a run of base64 finds ``base64(anything + secret + anything)``.
    """
    data = secret.encode()
    cores: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data + b"\0\0").decode()
        first = -(-8 * shift // 6)  # the first character made only of the secret's bits
        last = (8 * (shift + len(data))) // 6  # one past the last such character
        core = encoded[first:last]
        if len(core) >= _MIN_BASE64_CORE:
            cores.add(core)
            cores.add(core.translate(_URL_SAFE))
    return cores


_URL_SAFE = str.maketrans("+/", "-_")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}={0,2}")


def _patterns() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The compiled (forms, base64 cores) alternations of every remembered secret."""
    global _compiled
    compiled = _compiled
    if compiled is not None:
        return compiled
    with _lock:
        if _compiled is not None:
            return _compiled
        forms: set[str] = set()
        cores: set[str] = set()
        for value in _values:
            forms |= _forms(value)
            cores |= _base64_cores(value)
        _compiled = (_alternation(forms), _alternation(cores))
        return _compiled


def _alternation(literals: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(literals), key=len, reverse=True)  # the longest form wins
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


# -- text shaped like a credential ---------------------------------------------------------------

_AUTHORITY_END = re.compile(r"[/?#]")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# A cheap first look (substring tests, a fraction of one regular expression's cost): text with
# none of these, in lower case, holds no credential-shaped part.
_SHAPE_HINTS = (
    "://",
    "authorization",
    "private key",
    "key=",
    "signature=",
    "password=",
    "passwd=",
    "pwd=",
    "sig=",
    "secret=",
    "token=",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "ya29.",
    "xox",
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
_AUTHORIZATION = re.compile(
    r"(\b(?:proxy-)?authorization\b['\"]?\s*[:=]\s*['\"]?"
    r"(?:(?:basic|bearer|token|digest|negotiate)\s+)?)([^\s'\",;]+)",
    re.IGNORECASE,
)
_PAIR = re.compile(
    r"(\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Passwd|Pwd|sig"
    r"|client_secret|access_token|refresh_token)=)([^;&\s'\",]+)",
    re.IGNORECASE,
)
# GitHub, GitLab, Google OAuth access and Slack tokens: recognisable by their prefixes.
_TOKEN_SHAPE = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|ya29\.[A-Za-z0-9_.-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,})"
)


def _mask_shapes(text: str) -> str:
    lowered = text.lower()
    if not any(hint in lowered for hint in _SHAPE_HINTS):
        return text
    text = _PRIVATE_KEY.sub(MASK, text)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)
    text = _PAIR.sub(lambda m: m.group(1) + MASK, text)
    text = _TOKEN_SHAPE.sub(MASK, text)
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return text


# -- masking -----------------------------------------------------------------------------------


def mask(text: str) -> str:
    """``text`` with every remembered secret, in every form, and credential-shaped text masked."""
    forms, cores = _patterns()
    if cores is not None and cores.search(text):
        text = _BASE64_RUN.sub(lambda m: MASK if cores.search(m.group(0)) else m.group(0), text)
    if forms is not None:
        text = forms.sub(MASK, text)
    return _mask_shapes(text)


# -- URLs --------------------------------------------------------------------------------------


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``scheme://user:secret@host/path`` into (URL without credentials, user, secret)."""
    found = _userinfo(url)
    if found is None:
        return url, None, None
    userinfo, clean = found
    user, sep, secret = userinfo.partition(":")
    return clean, user or None, secret if sep else None


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by a mask (a lone user may be a token)."""
    found = _userinfo(url, cautious=True)
    if found is None:
        return url
    _, clean = found
    scheme, _, rest = clean.partition("://")
    return f"{scheme}://{MASK}@{rest}"


def _userinfo(url: str, *, cautious: bool = False) -> tuple[str, str] | None:
    """(user info, the URL without it), or None when ``url`` carries no credentials.

    A secret pasted unencoded may hold ``/``, ``?`` or ``#`` (``https://user:se/cret@host``),
    which ends the authority early for :func:`urllib.parse.urlsplit`; a non-numeric "port"
    before such an ``@`` shows that the ``@`` still belongs to the credentials. A numeric one
    (``https://user:12/34@host`` or ``https://host:8080/path@x``) is ambiguous: ``cautious``
    (for text that is only shown) then treats it as credentials too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    netloc = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" in netloc:
        userinfo, _, _ = netloc.rpartition("@")
    else:
        _, colon, port = netloc.partition(":")
        at = rest.find("@")
        numeric = port.isdigit() and not cautious
        if not colon or numeric or at < 0 or any(c.isspace() for c in rest[:at]):
            return None
        userinfo = rest[:at]
    return userinfo, f"{scheme}://{rest[len(userinfo) + 1 :]}"
