"""TransferProgress: plugins report every transfer; a bar appears only when it is worth it."""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

import codeferry.progress
from codeferry.progress import REVEAL_BYTES, REVEAL_FILES, TransferProgress, format_bytes
from codeferry.secrets import MASK, remember
from codeferry.steps.progress import RichStepReporter, StepReporter, default_reporter
from codeferry.terminal import set_quiet


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Terminal:
    """Standard error taken for a colour terminal; what it got, as ``terminal()``."""
    for variable in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr("codeferry.terminal._is_terminal", lambda _stream: True)
    return lambda: capsys.readouterr().err


Terminal = Callable[[], str]


@pytest.mark.usefixtures("terminal")
def test_a_short_transfer_draws_nothing() -> None:
    with TransferProgress("pull here", files=3, total_bytes=30) as progress:
        progress.advance(30, files=3)
        assert not progress.shown


@pytest.mark.usefixtures("terminal")
@pytest.mark.parametrize(
    "report",
    [
        lambda p: p.expect(files=REVEAL_FILES),
        lambda p: p.expect(total_bytes=REVEAL_BYTES),
        lambda p: p.advance(REVEAL_BYTES),
        lambda p: p.advance(files=REVEAL_FILES),
    ],
)
def test_a_transfer_is_drawn_once_it_proves_long(
    report: Callable[[TransferProgress], None],
) -> None:
    progress = TransferProgress("pull here")
    shown = [progress.shown]
    report(progress)
    shown.append(progress.shown)
    progress.close()
    shown.append(progress.shown)
    assert shown == [False, True, False]


def test_a_transfer_still_going_is_drawn_after_a_while(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codeferry.progress, "REVEAL_AFTER", 0.05)
    with TransferProgress("pull slowly", files=1) as progress:
        deadline = time.monotonic() + 10
        while not progress.shown:
            assert time.monotonic() < deadline, "the bar never appeared"
            time.sleep(0.01)
    assert "pull slowly" in terminal()


def test_nothing_is_drawn_into_a_pipe_even_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with TransferProgress("pull here", files=REVEAL_FILES, show=True) as progress:
        progress.advance(REVEAL_BYTES, files=REVEAL_FILES)
        assert not progress.shown
    assert stream.getvalue() == ""


@pytest.mark.usefixtures("terminal")
def test_a_quiet_command_draws_nothing() -> None:
    set_quiet(True)
    try:
        with TransferProgress("pull here", show=True) as progress:
            assert not progress.shown
    finally:
        set_quiet(False)


@pytest.mark.usefixtures("terminal")
def test_show_false_never_draws() -> None:
    with TransferProgress("pull here", files=REVEAL_FILES, show=False) as progress:
        progress.advance(REVEAL_BYTES)
        assert not progress.shown


def test_the_description_is_masked(terminal: Terminal) -> None:
    secret = "tok-" + "q7w8e9" * 4
    remember(secret)
    with TransferProgress(f"pull https://{secret}@host/repo", show=True) as progress:
        assert progress.description == f"pull https://{MASK}@host/repo"
        progress.describe(f"pull {secret}: writing files")
        progress.advance(10, files=1)
    shown = terminal()
    assert secret not in shown
    assert MASK in shown


def test_counts_add_up_from_many_threads() -> None:
    progress = TransferProgress("pull here", show=False)

    def work() -> None:
        for _ in range(1000):
            progress.advance(3)
            progress.file_done()

    with ThreadPoolExecutor(max_workers=8) as pool:
        for done in [pool.submit(work) for _ in range(8)]:
            done.result()
    assert (progress.files_done, progress.bytes_done) == (8000, 24000)


def test_a_step_spinner_and_a_transfer_bar_share_the_terminal(terminal: Terminal) -> None:
    reporter = default_reporter()
    assert isinstance(reporter, RichStepReporter)
    with reporter:
        reporter.step_started("pull step 1 'fetch'")
        with TransferProgress("pull bucket/flows", files=2, show=True) as progress:
            progress.advance(10, files=2)
        reporter.step_finished("pull step 1 'fetch'", 0.5)
    shown = terminal()
    assert "pull step 1 'fetch' ..." in shown
    assert "pull bucket/flows" in shown
    assert "2/2 files" in shown
    assert "✓" in shown


def test_steps_into_a_pipe_are_log_records(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    reporter = default_reporter()
    assert type(reporter) is StepReporter
    with caplog.at_level("INFO", logger="codeferry.steps"):
        reporter.step_started("pull step 1 'fetch'")
        reporter.step_note("pull step 1 'fetch'", "a deprecated name")
        reporter.step_finished("pull step 1 'fetch'", 0.25)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "running pull step 1 'fetch'"),
        ("WARNING", "note: pull step 1 'fetch': a deprecated name"),
        ("INFO", "pull step 1 'fetch' finished in 0.2 s"),
    ]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 << 20, "5.0 MiB"), (3 << 40, "3.0 TiB")],
)
def test_sizes_are_shown_in_binary_units(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_a_log_line_during_a_bar_is_printed_above_it_not_over_it(terminal: Terminal) -> None:
    from codeferry.terminal import configure_logging, logging_restored

    with logging_restored():
        configure_logging(0)
        with TransferProgress("pull here", show=True):
            logging.getLogger("codeferry.checkouts").warning("waiting for another pull")
    shown = terminal()
    before, line, after = shown.partition("waiting for another pull")
    assert line
    assert before.endswith("\x1b[2K")  # the bar was taken away first...
    assert "pull here" in after  # ...and drawn again below the line
