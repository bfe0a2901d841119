"""The one place that decides colour and animation on standard error."""

from __future__ import annotations

import io

import pytest

from codeferry.terminal import animation_enabled, colour_enabled, set_quiet


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        super().isatty()  # a closed stream raises, as a real one does
        return True


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def stream_in(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], terminal: bool
) -> io.StringIO:
    """A terminal (or a pipe, if not ``terminal``) in this environment plus ``environment``."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return FakeTerminal() if terminal else io.StringIO()


@pytest.mark.parametrize(
    ("environment", "terminal", "colour"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": "0"}, True, False),  # any non-empty value
        ({"NO_COLOR": ""}, True, True),  # empty: as if unset
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": ""}, False, False),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
        ({"TERM": "dumb"}, True, False),
        ({"TERM": "dumb", "FORCE_COLOR": "1"}, True, True),
    ],
)
def test_colour_follows_no_color_force_color_term_and_the_terminal(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], terminal: bool, colour: bool
) -> None:
    assert colour_enabled(stream_in(monkeypatch, environment, terminal)) is colour


@pytest.mark.parametrize(
    ("environment", "terminal", "animated"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"FORCE_COLOR": "1"}, False, False),  # colour into a pipe, but never a bar
        ({"NO_COLOR": "1"}, True, True),  # a bar without colour is still a bar
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_animation_needs_a_terminal_that_is_not_dumb(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], terminal: bool, animated: bool
) -> None:
    assert animation_enabled(stream_in(monkeypatch, environment, terminal)) is animated


def test_a_quiet_command_never_animates() -> None:
    set_quiet(True)
    try:
        assert not animation_enabled(FakeTerminal())
        assert colour_enabled(FakeTerminal())  # errors keep their colour
    finally:
        set_quiet(False)


def test_a_closed_stream_is_no_terminal() -> None:
    stream = FakeTerminal()
    stream.close()
    assert not animation_enabled(stream)
