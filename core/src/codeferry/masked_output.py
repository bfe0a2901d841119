"""Standard output and error with every secret masked, whoever writes to them.

The command line runs each command inside :func:`masked_stdio`: what codeferry prints, what the
programs steps run print as they stream, what user code run by ``codeferry run`` prints, Rich's
progress, tracebacks and JSON all pass :func:`codeferry.secrets.mask` on their way out. Text is
masked a line at a time, and a line written in pieces is held until its end (or a flush), so a
secret split across writes is still caught. A private key block is masked from its ``BEGIN``
line to its ``END`` line, however it is written.

The only way past the mask is :func:`unmasked_stdout`, for output that reveals secrets on
purpose (``codeferry block inspect --show-secrets``).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import sys
import threading
from typing import IO, TYPE_CHECKING, Any, TextIO

from codeferry.secrets import MASK, mask

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["MaskedTextStream", "masked_stdio", "unmasked_stdout"]

# A line longer than this without a newline is masked and written as it is (memory stays bounded).
_MAX_PENDING = 1 << 20
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


class _LineMasker:
    """Masks text given in pieces: complete lines at once, a partial line when flushed."""

    def __init__(self) -> None:
        self.pending = ""
        self.in_private_key = False

    def feed(self, text: str) -> str:
        """The masked complete lines that ``text`` finishes (the rest is held)."""
        self.pending += text
        head, newline, tail = self.pending.rpartition("\n")
        if not newline:
            if len(self.pending) <= _MAX_PENDING:
                return ""
            head, tail = self.pending, ""
        else:
            head += newline
        self.pending = tail
        return self._masked(head)

    def drain(self) -> str:
        """The masked partial line held so far."""
        text, self.pending = self.pending, ""
        return self._masked(text) if text else ""

    def _masked(self, text: str) -> str:
        shown = ""
        if self.in_private_key:
            end = _KEY_END.search(text)
            if end is None:
                return ""
            shown, text = MASK, text[end.end() :]
            self.in_private_key = False
        begins = list(_KEY_BEGIN.finditer(text))
        if begins and _KEY_END.search(text, begins[-1].end()) is None:
            self.in_private_key = True  # mask() hides the rest of this text; later text too
        return shown + mask(text)


class _Masking:
    """A writable stream in front of ``_under``, which answers ``isatty`` and ``fileno``."""

    _under: IO[Any]

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._under.isatty()

    def fileno(self) -> int:
        return self._under.fileno()


class MaskedTextStream(_Masking, io.TextIOBase):
    """A text stream that writes to ``stream`` with every secret masked.

    It answers ``isatty``, ``fileno``, ``encoding`` and ``errors`` as ``stream`` does, so Rich and
    click treat it as they would ``stream``; ``buffer`` takes bytes and masks them the same way.
    Safe to write from several threads.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.unmasked = stream
        self._under = stream
        self._masker = _LineMasker()
        self._lock = threading.RLock()
        raw = getattr(stream, "buffer", None)
        self._buffer = _MaskedBinaryStream(self, raw, self._lock) if raw is not None else None

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.unmasked, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.unmasked, "errors", None)

    @property
    def buffer(self) -> io.RawIOBase:
        if self._buffer is None:
            raise AttributeError("buffer")
        return self._buffer

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            shown = self._masker.feed(text)
            if shown:
                self.unmasked.write(shown)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            shown = self._masker.drain()
            if shown:
                self.unmasked.write(shown)
            self.unmasked.flush()

    def close(self) -> None:  # the stream belongs to whoever opened it: only flush it
        with contextlib.suppress(OSError, ValueError):  # it may be closed already
            self.flush()


class _MaskedBinaryStream(_Masking, io.RawIOBase):
    """Bytes written to a :class:`MaskedTextStream`'s ``buffer``: masked, then written as bytes.

    Bytes that are not UTF-8 pass through unchanged (they are decoded and encoded back with
    ``surrogateescape``).
    """

    def __init__(self, text: MaskedTextStream, raw: IO[bytes], lock: threading.RLock) -> None:
        super().__init__()
        self._text = text
        self._raw = self._under = raw
        self._lock = lock  # the text stream's: text and bytes come out in the order written
        self._masker = _LineMasker()
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")

    def write(self, data: Any) -> int:
        payload = bytes(data)
        with self._lock:
            self._text.flush()  # what was written as text comes first
            shown = self._masker.feed(self._decoder.decode(payload))
            if shown:
                self._raw.write(shown.encode("utf-8", "surrogateescape"))
        return len(payload)

    def flush(self) -> None:
        with self._lock:
            shown = self._masker.drain()
            if shown:
                self._raw.write(shown.encode("utf-8", "surrogateescape"))
            self._raw.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.flush()


@contextlib.contextmanager
def masked_stdio() -> Iterator[None]:
    """Mask every secret in what is written to ``sys.stdout`` and ``sys.stderr`` meanwhile.

    Nested uses are harmless: an already masked stream is not wrapped again.
    """
    saved = sys.stdout, sys.stderr
    wrapped = [
        stream
        if stream is None or isinstance(stream, MaskedTextStream)
        else MaskedTextStream(stream)
        for stream in saved
    ]
    sys.stdout, sys.stderr = wrapped
    try:
        yield
    finally:
        for stream in wrapped:
            if isinstance(stream, MaskedTextStream) and stream not in saved:
                stream.close()
        sys.stdout, sys.stderr = saved


def unmasked_stdout() -> TextIO:
    """Standard output without the mask, for output that shows secrets because it was asked to."""
    stream = sys.stdout
    while isinstance(stream, MaskedTextStream):
        stream.flush()
        stream = stream.unmasked
    return stream
