"""Every CODEFERRY_* setting is parsed one way: switches, durations and name lists."""

from __future__ import annotations

import pytest

from codeferry import settings
from codeferry.errors import SettingError


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "on"])
def test_a_switch_is_on_for_the_usual_words(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CODEFERRY_X", raw)
    assert settings.flag("CODEFERRY_X") is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_a_switch_is_off_for_the_usual_words(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CODEFERRY_X", raw)
    assert settings.flag("CODEFERRY_X", default=True) is False


def test_an_unset_switch_takes_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEFERRY_X", raising=False)
    assert settings.flag("CODEFERRY_X") is False
    assert settings.flag("CODEFERRY_X", default=True) is True


def test_a_switch_that_is_no_word_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFERRY_X", "maybe")
    with pytest.raises(SettingError, match="CODEFERRY_X='maybe' is not a switch"):
        settings.flag("CODEFERRY_X")


def test_debug_false_does_not_turn_debugging_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeferry.cli.output import debug_enabled

    monkeypatch.setenv("CODEFERRY_DEBUG", "false")
    assert not debug_enabled()
    monkeypatch.setenv("CODEFERRY_DEBUG", "true")
    assert debug_enabled()


@pytest.mark.parametrize(("raw", "expected"), [("30", 30.0), ("2.5", 2.5), ("10s", 10.0)])
def test_a_duration_is_a_number_of_seconds(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: float
) -> None:
    monkeypatch.setenv("CODEFERRY_T", raw)
    assert settings.seconds("CODEFERRY_T", 60.0) == expected


@pytest.mark.parametrize("raw", ["0", "none", "off"])
def test_a_duration_of_zero_means_no_limit(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CODEFERRY_T", raw)
    assert settings.seconds("CODEFERRY_T", 60.0) is None


@pytest.mark.parametrize("raw", ["-1", "soon", "inf", "nan"])
def test_a_duration_that_is_no_number_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CODEFERRY_T", raw)
    with pytest.raises(SettingError, match="CODEFERRY_T"):
        settings.seconds("CODEFERRY_T", 60.0)


def test_names_are_split_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFERRY_N", " s3, git ,,")
    assert settings.names("CODEFERRY_N") == {"s3", "git"}
    monkeypatch.delenv("CODEFERRY_N")
    assert settings.names("CODEFERRY_N") is None


@pytest.mark.parametrize(("raw", "expected"), [("Never", "never"), (" always ", "always")])
def test_a_choice_is_one_of_its_words_in_any_case(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: str
) -> None:
    monkeypatch.setenv("CODEFERRY_C", raw)
    assert settings.choice("CODEFERRY_C", ("auto", "always", "never"), "auto") == expected


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_an_unset_choice_takes_its_default(
    monkeypatch: pytest.MonkeyPatch, raw: str | None
) -> None:
    if raw is None:
        monkeypatch.delenv("CODEFERRY_C", raising=False)
    else:
        monkeypatch.setenv("CODEFERRY_C", raw)
    assert settings.choice("CODEFERRY_C", ("auto", "never"), "auto") == "auto"


def test_a_choice_of_another_word_is_refused_listing_the_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEFERRY_C", "sometimes")
    with pytest.raises(SettingError, match=r"CODEFERRY_C='sometimes' is not one of auto, never"):
        settings.choice("CODEFERRY_C", ("auto", "never"), "auto")
