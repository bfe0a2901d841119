"""GcpCredentials: service account info or file, the project, emulators, and secrets kept secret."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from codeferry.errors import CodeferryError
from codeferry_gcs.credentials import GcpCredentials, gcsfs_options

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----\n"
INFO = {
    "type": "service_account",
    "project_id": "from-the-key",
    "private_key_id": "0123456789abcdef",
    "private_key": PRIVATE_KEY,
    "client_email": "flows@from-the-key.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


@pytest.fixture(autouse=True)
def no_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)


def test_service_account_info_becomes_the_gcsfs_token() -> None:
    options = gcsfs_options(GcpCredentials(service_account_info=INFO))
    assert options == {"project": "from-the-key", "token": INFO}


def test_service_account_info_may_be_json_text() -> None:
    credentials = GcpCredentials(service_account_info=json.dumps(INFO))
    assert credentials.token() == INFO


def test_invalid_json_text_is_refused_without_echoing_it() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        GcpCredentials(service_account_info='{"private_key": "' + PRIVATE_KEY)
    assert "not valid JSON" in str(caught.value)
    assert "not-a-real-key" not in str(caught.value)


def test_a_service_account_file_is_passed_by_path(tmp_path: Path) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(INFO))
    options = gcsfs_options(GcpCredentials(service_account_file=str(key_file), project="p"))
    assert options == {"project": "p", "token": str(key_file)}


def test_a_missing_service_account_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CodeferryError, match=r"service account file .*nope\.json does not exist"):
        gcsfs_options(GcpCredentials(service_account_file=str(tmp_path / "nope.json")))


def test_an_explicit_project_wins_over_the_credentials_and_the_key() -> None:
    credentials = GcpCredentials(service_account_info=INFO, project="from-the-block")
    assert gcsfs_options(credentials)["project"] == "from-the-block"
    assert gcsfs_options(credentials, project="explicit")["project"] == "explicit"


def test_without_credentials_google_defaults_are_left_to_gcsfs() -> None:
    assert gcsfs_options(None) == {}
    assert gcsfs_options(GcpCredentials(project="p")) == {"project": "p"}


def test_an_emulator_endpoint_is_used_unsigned_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert gcsfs_options(None, endpoint_url="http://127.0.0.1:9023/") == {
        "endpoint_url": "http://127.0.0.1:9023",
        "token": "anon",
    }
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9023")
    assert gcsfs_options(None) == {"token": "anon"}


def test_credentials_are_still_used_against_an_emulator() -> None:
    options = gcsfs_options(GcpCredentials(service_account_info=INFO), endpoint_url="http://h:1")
    assert options["token"] == INFO


def test_info_and_file_together_are_refused() -> None:
    with pytest.raises(CodeferryError, match="not both") as caught:
        GcpCredentials.from_step_argument(
            {"service_account_info": INFO, "service_account_file": "/k.json"}
        )
    assert "not-a-real-key" not in str(caught.value)


def test_prefect_yaml_dictionaries_are_accepted_with_unset_entries_ignored() -> None:
    credentials = GcpCredentials.from_step_argument(
        {"service_account_info": INFO, "service_account_file": None, "project": "p"}
    )
    assert credentials is not None
    assert credentials.token() == INFO
    assert credentials.project == "p"


def test_a_typed_block_and_nothing_pass_through() -> None:
    block = GcpCredentials(project="p")
    assert GcpCredentials.from_step_argument(block) is block
    assert GcpCredentials.from_step_argument(None) is None


def test_the_private_key_is_masked_in_repr_str_and_public_dict() -> None:
    credentials = GcpCredentials(service_account_info=INFO)
    for shown in (repr(credentials), str(credentials), repr(credentials.public_dict())):
        assert "not-a-real-key" not in shown
    assert PRIVATE_KEY in credentials.secret_values()


def test_service_account_info_is_a_secret_field() -> None:
    assert GcpCredentials.secret_fields() == ["service_account_info"]
