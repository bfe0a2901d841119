"""The secret policy: which names are secret, what is remembered, and every form masked."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretBytes, SecretStr

from codeferry import secrets
from codeferry.secrets import (
    MASK,
    is_secret_name,
    mask,
    redact_url,
    remember,
    remember_named,
    split_url_credentials,
)
from tests.secret_forms import secret_forms


@pytest.fixture(autouse=True)
def _no_secrets_known() -> Iterator[None]:
    secrets.forget()
    yield
    secrets.forget()


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "access_token",
        "PGPASSWORD",
        "MYSQL_PWD",
        "aws_secret_access_key",
        "aws_access_key_id",
        "connection_string",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AccountKey",
        "sas_token",
        "SharedAccessSignature",
        "clientSecret",
        "private_key",
        "passphrase",
        "credentials",
        "key",
        "auth",
        "API_KEY",
        "sig",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["author", "keyboard", "monkey", "bucket_name", "region", "url", "path", "sassy"]
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


# -- remembering ---------------------------------------------------------------------------------


def test_remembered_values_are_masked_from_any_thread() -> None:
    # Context variables do not reach new threads; the registry does.
    thread = threading.Thread(target=remember, args=("tok-from-a-thread",))
    thread.start()
    thread.join()
    assert mask("got tok-from-a-thread") == f"got {MASK}"


def test_pydantic_secrets_lists_and_dicts_are_remembered() -> None:
    remember(
        SecretStr("secret-str-1"),
        SecretBytes(b"secret-bytes-2"),
        {"k": ["in-a-list-3", {"deep": "in-a-dict-4"}]},
    )
    text = "secret-str-1 secret-bytes-2 in-a-list-3 in-a-dict-4"
    assert mask(text) == " ".join([MASK] * 4)


def test_a_model_is_remembered_by_its_secret_fields_only() -> None:
    class Credentials(BaseModel):
        username: str
        token: SecretStr
        tokens: list[SecretStr]
        api_key: str  # a secret name, even without a secret type

    remember(
        Credentials(username="ada", token="tok-one-1", tokens=["tok-two-2"], api_key="plain-key-3")
    )
    assert mask("ada tok-one-1 tok-two-2 plain-key-3") == f"ada {MASK} {MASK} {MASK}"


def test_a_secret_mapping_that_names_its_secrets_is_remembered_by_them() -> None:
    # A service account's JSON key: its private key is secret, its project and e-mail are not.
    remember(
        SecretStr("x"),
        {
            "type": "service_account",
            "project_id": "flows-project",
            "private_key_id": "key-id-123",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0\n-----END",
        },
        {"anything": "secret-as-a-whole-1"},
    )
    text = "service_account flows-project key-id-123 MIIEvQIBADANBgkqhkiG9w0 secret-as-a-whole-1"
    assert mask(text) == f"service_account flows-project {MASK} {MASK} {MASK}"


def test_named_values_are_remembered_by_their_names() -> None:
    remember_named(
        {
            "container": "flows",
            "credentials": {"connection_string": "conn-value-1", "account_url": "http://host"},
            "tokens": ["tok-a-1", "tok-b-2"],
            "region": "us-east-1",
        }
    )
    text = "flows conn-value-1 http://host tok-a-1 tok-b-2 us-east-1"
    assert mask(text) == f"flows {MASK} http://host {MASK} {MASK} us-east-1"


def test_settings_and_file_paths_under_secret_names_are_not_remembered(tmp_path: Path) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text("{}")
    remember_named({"AUTH_ENABLED": "true", "GOOGLE_CREDENTIALS": str(key_file), "KEY": "ab"})
    text = f"true {key_file} ab"
    assert mask(text) == text


def test_the_secret_parts_of_credential_shaped_text_are_remembered() -> None:
    remember_named(
        {
            "conn": "AccountName=dev;AccountKey=bXlrZXk=;BlobEndpoint=http://h/dev;",
            "url": "https://user:pass-word-9@git.example.com/r.git",
            "sas": "sv=2020-02-10&sig=c2lnbmF0dXJl&se=2030",
        }
    )
    assert mask("bXlrZXk= pass-word-9 c2lnbmF0dXJl") == f"{MASK} {MASK} {MASK}"


def test_a_multi_line_secret_is_masked_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nmore-key\n-----END KEY-----"
    remember(key)
    assert "AAAAB3NzaC1yc2EAAAADAQABAAABAQ" not in mask("line AAAAB3NzaC1yc2EAAAADAQABAAABAQ")


# -- every form ----------------------------------------------------------------------------------

_SECRET = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=["Cs"]),
    min_size=4,
    max_size=40,
).filter(lambda s: s.strip().lower() not in {"true", "false", "none", "null"})
_USER = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
_AROUND = st.text(max_size=40)


@given(_SECRET, _USER, _AROUND, _AROUND)
def test_every_form_of_a_remembered_secret_is_masked(
    secret: str, user: str, before: str, after: str
) -> None:
    secrets.forget()
    remember(secret)
    for form in secret_forms(secret, user):
        shown = mask(f"{before} {form} {after}")
        assert form not in shown, (form, shown)
        assert MASK in shown


@given(_SECRET, _USER)
def test_http_basic_credentials_in_a_header_are_masked(secret: str, user: str) -> None:
    secrets.forget()
    remember(secret)
    header = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    for text in (f"Authorization: {header}", json.dumps({"echo": header})):
        shown = mask(text)
        assert header.split()[1] not in shown


_PLAIN = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=["Cs"]),
    max_size=200,
)


@given(_PLAIN, _SECRET)
def test_text_without_secrets_is_unchanged(text: str, secret: str) -> None:
    assume(not re.search(r"://|=|authorization|PRIVATE KEY|gh[pousr]_|glpat-", text, re.I))
    secrets.forget()
    remember(secret)
    assume(all(form not in text for form in secret_forms(secret, "")))
    assume(not any(core in text for core in secrets._base64_cores(secret)))
    assert mask(text) == text


# -- credential-shaped text, never remembered ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=S2V5S2V5S2V5==;"
            "EndpointSuffix=core.windows.net",
            "S2V5S2V5S2V5==",
        ),
        ("BlobEndpoint=https://h;SharedAccessSignature=sv=2020&sig=U2lnU2ln%3D", "U2lnU2ln"),
        ("GET https://acct.blob.core.windows.net/c?sv=2020&sp=r&sig=abcDEF123%2B", "abcDEF123"),
        ("Server=db;User Id=app;Password=hunter2-long;", "hunter2-long"),
        ("headers: {'Authorization': 'Bearer eyJhbGciOi.eyJzdWIi.c2ln'}", "eyJhbGciOi"),
        ("Authorization: Basic YWxpY2U6c2VjcmV0", "YWxpY2U6c2VjcmV0"),
        ("cloned https://x-access-token:gho_abc@github.com/o/r", "gho_abc"),
        ("token ghp_" + "a" * 36 + " was refused", "ghp_" + "a" * 36),
        ("token glpat-" + "b" * 20 + " was refused", "glpat-" + "b" * 20),
        ("Bearer ya29.a0AfH6SMBx-c2VjcmV0LXRva2Vu was refused", "a0AfH6SMBx"),
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\n",
            "MIIEow",
        ),
        ("truncated -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC", "b3BlbnNzaC"),
    ],
)
def test_credential_shaped_text_is_masked_without_being_remembered(text: str, hidden: str) -> None:
    shown = mask(text)
    assert hidden not in shown
    assert MASK in shown


def test_masking_leaves_ordinary_messages_alone() -> None:
    text = "Basic authentication failed for key=code/flow.py (HTTP 403); see https://host/doc"
    assert mask(text) == text


# -- URLs ----------------------------------------------------------------------------------------


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


def test_mask_masks_values_and_urls_in_text() -> None:
    remember("sekrit-value")
    masked = mask("failed: token sekrit-value at https://u:pw@example.com/repo")
    assert "sekrit-value" not in masked
    assert masked == f"failed: token {MASK} at https://{MASK}@example.com/repo"


_SECRET_CHARS = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@")


@given(st.text(_SECRET_CHARS, min_size=3, max_size=30), st.sampled_from(["", ":8443"]))
def test_redact_url_hides_an_unencoded_password(secret: str, port: str) -> None:
    # A token pasted as is may hold "/", "?" or "#", which end a URL's authority early.
    url = f"https://user:{secret}@git.example.com{port}/team/repo.git"
    redacted = redact_url(url)
    assert secret not in redacted
    assert redacted == f"https://{MASK}@git.example.com{port}/team/repo.git"
    # For connecting, "user:12/34@host" could be "host:12" with "/34@host" as its path, whatever
    # port follows the "@".
    assume(not re.split(r"[/?#]", secret, maxsplit=1)[0].isdigit())
    clean, user, password = split_url_credentials(url)
    assert (clean, user, password) == (
        f"https://git.example.com{port}/team/repo.git",
        "user",
        secret,
    )


def test_the_login_of_an_ssh_url_is_not_taken_for_a_token() -> None:
    from codeferry.secrets import forget, mask, remember

    forget()
    remember({"url": "ssh://git@example.com/flows.git"}, "https://tok3n-value@example.com/x")
    assert mask("git server") == "git server"
    assert mask("tok3n-value") == "********"
