"""Standard output and error masked as they are written: pieces, threads, bytes, key blocks."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator

import pytest

from codeferry import secrets
from codeferry.masked_output import MaskedTextStream, masked_stdio, unmasked_stdout
from codeferry.secrets import MASK, remember


@pytest.fixture(autouse=True)
def _a_known_secret() -> Iterator[None]:
    secrets.forget()
    remember("tok-abcdef-123456")
    yield
    secrets.forget()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 99


def test_a_secret_written_in_pieces_is_masked() -> None:
    target = io.StringIO()
    stream = MaskedTextStream(target)
    for piece in ("token: tok-abc", "def-12", "3456", " done\n"):
        stream.write(piece)
    assert target.getvalue() == f"token: {MASK} done\n"


def test_a_partial_line_is_written_masked_when_flushed() -> None:
    target = io.StringIO()
    stream = MaskedTextStream(target)
    stream.write("progress tok-abcdef-123456 ")
    assert target.getvalue() == ""
    stream.flush()
    assert target.getvalue() == f"progress {MASK} "


def test_the_stream_answers_as_the_one_it_wraps() -> None:
    stream = MaskedTextStream(Terminal())
    assert stream.isatty()
    assert stream.fileno() == 99
    assert stream.writable()
    with pytest.raises(TypeError):
        stream.write(b"bytes are for .buffer")  # type: ignore[arg-type]


def test_bytes_written_to_the_buffer_are_masked_and_others_pass_unchanged() -> None:
    raw = io.BytesIO()
    target = io.TextIOWrapper(raw, encoding="utf-8")
    stream = MaskedTextStream(target)
    stream.write("text first\n")
    stream.buffer.write(b"\xff\xfe raw tok-abcdef-")
    stream.buffer.write(b"123456 bytes\n")
    stream.flush()
    assert raw.getvalue() == b"text first\n\xff\xfe raw " + MASK.encode() + b" bytes\n"


def test_a_private_key_block_is_masked_from_begin_to_end_across_writes() -> None:
    target = io.StringIO()
    stream = MaskedTextStream(target)
    stream.write("before\n-----BEGIN OPENSSH PRIVATE KEY-----\n")
    stream.write("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n")
    stream.flush()
    stream.write("AAAAC3NzaC1lZDI1NTE5AAAAIHJ1bGVz\n-----END OPENSSH PRIVATE KEY-----\nafter\n")
    shown = target.getvalue()
    assert "b3BlbnNzaC1rZXkt" not in shown
    assert "AAAAC3NzaC1lZDI1NTE5" not in shown
    assert shown.startswith("before\n")
    assert shown.endswith("after\n")


def test_lines_from_many_threads_are_each_masked() -> None:
    target = io.StringIO()
    stream = MaskedTextStream(target)

    def write() -> None:
        for _ in range(200):
            stream.write("a line with tok-abcdef-123456 in it\n")

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.getvalue() == f"a line with {MASK} in it\n" * 800


def test_masked_stdio_wraps_and_restores_the_standard_streams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sys.stdout, sys.stderr
    with masked_stdio():
        print("out tok-abcdef-123456")
        print("err tok-abcdef-123456", file=sys.stderr)
        unmasked_stdout().write("revealed tok-abcdef-123456\n")
    assert (sys.stdout, sys.stderr) == before
    captured = capsys.readouterr()
    assert captured.out == f"out {MASK}\nrevealed tok-abcdef-123456\n"
    assert captured.err == f"err {MASK}\n"
