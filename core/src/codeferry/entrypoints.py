"""Entrypoints: which function in the pulled code to run, and the arguments to call it with.

Two forms are accepted:

- ``path/to/file.py:function`` (or ``file.py:Class.method``): a file inside the code folder (an
  absolute path, a ``..`` or a symbolic link that leads out of it is refused);
- ``package.module.function`` or ``package.module:function``: a module importable from the code
  folder.

The code folder and the file's own folder go first on ``sys.path``, so sibling modules import.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeferry.digests import sha256
from codeferry.errors import EntrypointError, UserCodeError

__all__ = ["Entrypoint", "call", "load_entrypoint", "parse_arguments", "parse_entrypoint"]

_IDENTIFIER = r"[A-Za-z_]\w*"
_DOTTED = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
_FILE_FORM = re.compile(rf"^(?P<path>[^:]+\.py):(?P<attr>{_DOTTED})$")
_MODULE_COLON_FORM = re.compile(rf"^(?P<module>{_DOTTED}):(?P<attr>{_DOTTED})$")
_MODULE_DOT_FORM = re.compile(rf"^(?P<module>{_DOTTED})\.(?P<attr>{_IDENTIFIER})$")
_KEYWORD = re.compile(rf"^(?P<key>{_IDENTIFIER})=(?P<value>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Entrypoint:
    """A parsed entrypoint: either ``path`` (a file) or ``module``, and the attribute in it."""

    attribute: str
    path: str | None = None
    module: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.path}:{self.attribute}"
        return f"{self.module}:{self.attribute}"


def parse_entrypoint(text: str) -> Entrypoint:
    """Parse ``path/file.py:func``, ``pkg.module:func`` or ``pkg.module.func``.

    :raises EntrypointError: for anything else, saying which forms are accepted.
    """
    text = text.strip()
    if text.endswith(".py"):
        raise EntrypointError(
            f"entrypoint {text!r} names a file but no function: use {text}:function_name"
        )
    if match := _FILE_FORM.match(text):
        path = match["path"]
        if path.startswith(("/", "\\")):
            raise EntrypointError(
                f"entrypoint {text!r} names a file by an absolute path: name it relative to "
                "the code folder"
            )
        if ".." in re.split(r"[/\\]", path):
            raise EntrypointError(
                f"entrypoint {text!r} leaves the code folder ('..'): the file must be inside it"
            )
        return Entrypoint(match["attr"], path=path)
    if match := _MODULE_COLON_FORM.match(text):
        return Entrypoint(match["attr"], module=match["module"])
    if match := _MODULE_DOT_FORM.match(text):
        return Entrypoint(match["attr"], module=match["module"])
    raise EntrypointError(
        f"entrypoint {text!r} is not of the form "
        "path/to/file.py:function or package.module.function"
    )


def load_entrypoint(entrypoint: str | Entrypoint, code_dir: str | Path) -> Any:
    """Import the entrypoint from ``code_dir`` and return the object it names.

    :raises EntrypointError: the file, module or attribute does not exist.
    :raises UserCodeError: importing the user's code raised.
    """
    parsed = parse_entrypoint(entrypoint) if isinstance(entrypoint, str) else entrypoint
    root = Path(code_dir).resolve()
    _forget_other_versions(root)
    _prepend_path(root)
    if parsed.path is not None:
        file = Path(os.path.realpath(root / parsed.path))  # a link loop: not found, below
        if not file.is_relative_to(root):
            raise EntrypointError(
                f"entrypoint file {parsed.path} is outside the code folder {root} "
                f"(it leads to {file}): the file must be inside it"
            )
        if not file.is_file():
            raise EntrypointError(f"entrypoint file {parsed.path} not found in {root}")
        _prepend_path(file.parent)
        name = f"codeferry_entrypoint_{sha256(str(file).encode()).hexdigest()[:12]}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise EntrypointError(f"entrypoint file {parsed.path} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            sys.modules.pop(name, None)
            raise UserCodeError(f"importing {parsed.path} raised {type(error).__name__}") from error
    else:
        assert parsed.module is not None
        try:
            module = importlib.import_module(parsed.module)
        except ModuleNotFoundError as error:
            if error.name and parsed.module.startswith(error.name):
                raise EntrypointError(
                    f"entrypoint module {parsed.module} not found in {root}"
                ) from None
            raise UserCodeError(f"importing {parsed.module} raised ModuleNotFoundError") from error
        except Exception as error:
            message = f"importing {parsed.module} raised {type(error).__name__}"
            raise UserCodeError(message) from error
    obj: Any = module
    for part in parsed.attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise EntrypointError(f"entrypoint {parsed}: {part!r} not found") from None
    return obj


def parse_arguments(words: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """Turn command-line words into call arguments.

    ``key=value`` and ``--key value`` (or ``--key=value``) are keyword arguments; other words are
    positional. Values that are valid JSON are decoded (``3``, ``true``, ``[1, 2]``); others stay
    strings. A ``--flag`` with no value is ``True``.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("--") and len(word) > 2:
            key, sep, value = word[2:].partition("=")
            key = key.replace("-", "_")
            if not re.fullmatch(_IDENTIFIER, key):
                raise EntrypointError(f"argument {word!r} is not a valid --name")
            if not sep:
                if index < len(words) and not words[index].startswith("--"):
                    value, index = words[index], index + 1
                else:
                    kwargs[key] = True
                    continue
            kwargs[key] = _decode(value)
        elif match := _KEYWORD.match(word):
            kwargs[match["key"]] = _decode(match["value"])
        else:
            args.append(_decode(word))
    return args, kwargs


def call(function: Any, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None) -> Any:
    """Call the entrypoint (running it to completion if it is a coroutine function).

    :raises UserCodeError: the call raised; its exception is the ``__cause__``.
    :raises EntrypointError: the object is not callable or the arguments do not fit it.
    """
    if not callable(function):
        raise EntrypointError(f"entrypoint {function!r} is not callable")
    args, kwargs = args or [], kwargs or {}
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as error:
        raise EntrypointError(f"arguments do not fit the entrypoint: {error}") from None
    except ValueError:  # no signature available (builtins): let the call decide
        pass
    try:
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            import asyncio  # only for coroutines: it costs the other entrypoints' start-up

            result = asyncio.run(_await(result))
    except Exception as error:
        raise UserCodeError(f"the entrypoint raised {type(error).__name__}: {error}") from error
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _forget_other_versions(root: Path) -> None:
    """In a checkout (``.../versions/<id>``), forget what earlier versions put in this process.

    A long-lived worker loads each new version of the code in turn: modules imported from an
    older version (``pkg.module``, or a flow file's sibling ``helpers``) and its ``sys.path``
    entries must go, or ``import`` would keep answering with the old code.
    """
    versions = root.parent
    if versions.name != "versions":  # the layout of codeferry.checkouts
        return

    # os.path rather than pathlib: this runs over every module of the process, at each load.
    prefix = os.path.join(versions, "")  # noqa: PTH118
    real_folders: dict[str, str] = {}

    def from_another_version(location: str) -> bool:
        # Resolved folder by folder: a process holds hundreds of modules from a few folders.
        folder, name = os.path.split(location)
        try:
            real = real_folders.get(folder)
            if real is None:
                real = real_folders[folder] = os.path.realpath(folder or os.curdir)
            path = os.path.normpath(os.path.join(real, name))  # noqa: PTH118
            if os.path.islink(path):  # noqa: PTH114
                path = os.path.realpath(path)
        except (ValueError, OSError):
            return False
        if not path.startswith(prefix):
            return False
        return path[len(prefix) :].split(os.sep, 1)[0] != root.name

    sys.path[:] = [entry for entry in sys.path if not (entry and from_another_version(entry))]
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if location and from_another_version(location):
            del sys.modules[name]


def _prepend_path(path: Path) -> None:
    text = str(path)
    if text in sys.path:
        sys.path.remove(text)
    sys.path.insert(0, text)
