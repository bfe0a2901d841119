"""Secrets are masked in text that is shown or raised."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from codeferry.redact import MASK, mask_secrets, redact_url, split_url_credentials


def test_redact_url_masks_user_and_password() -> None:
    assert (
        redact_url("https://bob:t0ken@github.com/o/r.git") == f"https://{MASK}@github.com/o/r.git"
    )


def test_redact_url_masks_a_lone_token_user() -> None:
    assert redact_url("https://ghp_abc123@github.com/o/r") == f"https://{MASK}@github.com/o/r"


def test_redact_url_leaves_plain_urls_alone() -> None:
    assert redact_url("s3://bucket/key") == "s3://bucket/key"


def test_split_url_credentials_moves_them_out_of_the_url() -> None:
    assert split_url_credentials("https://bob:p%40ss@host:8080/x") == (
        "https://host:8080/x",
        "bob",
        "p%40ss",
    )


def test_mask_secrets_masks_values_and_urls_in_text() -> None:
    text = "failed: token sekrit-value at https://u:pw@example.com/repo"
    masked = mask_secrets(text, ["sekrit-value"])
    assert "sekrit-value" not in masked
    assert "pw" not in masked.split("example.com")[0].split("https://")[1]


@given(st.text(min_size=3, max_size=30).filter(lambda s: s.strip() == s), st.text(max_size=50))
def test_mask_secrets_never_leaves_the_secret(secret: str, around: str) -> None:
    text = around + secret + around
    assert secret not in mask_secrets(text, [secret]) or secret in MASK


_SECRET_CHARS = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@")


@given(st.text(_SECRET_CHARS, min_size=3, max_size=30), st.sampled_from(["", ":8443"]))
def test_redact_url_hides_an_unencoded_password(secret: str, port: str) -> None:
    # A token pasted as is may hold "/", "?" or "#", which end a URL's authority early.
    url = f"https://user:{secret}@git.example.com{port}/team/repo.git"
    redacted = redact_url(url)
    assert secret not in redacted
    assert redacted == f"https://{MASK}@git.example.com{port}/team/repo.git"
    # For connecting, "user:12/34@host" could be "host:12" with "/34@host" as its path.
    assume(port or not re.split(r"[/?#]", secret, maxsplit=1)[0].isdigit())
    clean, user, password = split_url_credentials(url)
    assert (clean, user, password) == (
        f"https://git.example.com{port}/team/repo.git",
        "user",
        secret,
    )
