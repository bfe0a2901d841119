"""Every botocore internal the S3 plugin relies on: the session s3fs runs on, made cheaper.

The aiobotocore session s3fs runs on is made cheaper to start and to read listings with, by
subclassing botocore's data loaders and registering them and a timestamp parser as session
components; none of that is botocore's documented API. :func:`problems` checks that the installed
botocore and aiobotocore still have what this module uses (the project's tests call it, so an
upgrade that changes one fails there, naming it); should one be missing at run time anyway,
:func:`aio_session` falls back to a plain session, slower but correct.

- **Timestamps.** botocore reads every timestamp with dateutil. In a listing of 2,000 keys that
  is half of the client's CPU time (0.31 s -> 0.13 s measured against moto), and a re-pull with
  nothing changed is nothing but that listing. S3 lists ``LastModified`` in ISO 8601, which the
  standard library reads directly; anything else (HTTP dates in headers) still goes to
  botocore's reader.
- **Service models.** Before loading S3's model, botocore checks that ``s3`` is a service it
  knows by listing every service folder it has (about 400, each with its versions): 60 ms of
  the 100 ms a client takes to create. :class:`ServiceLoader` looks in the one folder asked for.
- **Model files.** botocore reads its JSON models into ``OrderedDict`` objects. Plain dicts keep the
  same order since Python 3.7 and take 4 MB less for an S3 client (12.3 MB -> 7.4 MB; the
  endpoint table alone 7.0 -> 4.1 MB) and half the time to parse (56 -> 30 ms).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader

__all__ = [
    "PlainJSONFileLoader",
    "ServiceLoader",
    "aio_session",
    "config_settings",
    "parse_timestamp",
    "problems",
]

log = logging.getLogger(__name__)


def aio_session(profile: str | None = None) -> Any:
    """A new aiobotocore session (for ``profile``, if given) with the changes above."""
    from aiobotocore.session import AioSession

    session = AioSession(profile=profile)
    try:
        session.lazy_register_component(
            "data_loader", lambda: ServiceLoader(session.get_config_variable("data_path"))
        )
        parsers = session.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
    except (AttributeError, TypeError) as error:  # botocore changed: see problems()
        log.debug("botocore's internals changed (%s): a plain session is used", error)
        return AioSession(profile=profile)
    return session


def config_settings(config: Any) -> dict[str, Any]:
    """The settings a botocore ``Config`` was made with, as the mapping s3fs takes.

    :raises ValueError: when ``config`` is not a botocore ``Config``.
    """
    from botocore.config import Config

    if not isinstance(config, Config):
        raise ValueError(
            f"config must be a mapping of botocore settings, not {type(config).__name__}"
        )
    settings: dict[str, Any] = dict(vars(config).get("_user_provided_options", {}))
    return settings


def problems() -> list[str]:
    """What the installed botocore and aiobotocore no longer provide that this module uses."""
    from aiobotocore.session import AioSession
    from botocore.config import Config

    from codeferry.remote import library_changed

    found: list[str] = []

    def problem(distribution: str, what: str) -> None:
        found.append(library_changed(distribution, what, __name__))

    for name in ("list_available_services", "list_api_versions"):
        if not callable(getattr(Loader, name, None)):
            problem("botocore", f"botocore.loaders.Loader.{name} is gone")
    if not callable(getattr(JSONFileLoader, "load_file", None)):
        problem("botocore", "botocore.loaders.JSONFileLoader.load_file is gone")
    try:
        ServiceLoader()
    except TypeError as error:
        problem(
            "botocore", f"Loader() no longer takes extra_search_paths and file_loader ({error})"
        )
    if "_user_provided_options" not in vars(Config(connect_timeout=1)):
        problem("botocore", "Config no longer keeps the settings it was given")
    session = AioSession()
    for name in ("lazy_register_component", "get_component", "get_config_variable"):
        if not callable(getattr(session, name, None)):
            problem("aiobotocore", f"AioSession.{name} is gone")
    if not found:
        made = aio_session()
        if not isinstance(made.get_component("data_loader"), ServiceLoader):
            problem("aiobotocore", "the session no longer takes its data loader as a component")
        parsers = made.get_component("response_parser_factory")
        if not callable(getattr(parsers, "set_parser_defaults", None)):
            problem("botocore", "ResponseParserFactory.set_parser_defaults is gone")
    return found


class ServiceLoader(Loader):  # type: ignore[misc]  # botocore has no type hints
    """botocore's data loader, answering "is this a service?" from that service's folder alone,
    and reading models with :class:`PlainJSONFileLoader`.

    :param data_path: extra folders to search first, as botocore's ``AWS_DATA_PATH`` gives them
        (separated by ``os.pathsep``).
    """

    def __init__(self, data_path: str | None = None) -> None:
        folders = (data_path or "").split(os.pathsep)
        extra = [str(Path(os.path.expandvars(folder)).expanduser()) for folder in folders if folder]
        super().__init__(extra_search_paths=extra, file_loader=PlainJSONFileLoader())

    def list_available_services(self, type_name: str) -> _Services:
        return _Services(self, type_name)


class _Services:
    """The services that have a ``type_name`` model: each name checked when asked about."""

    def __init__(self, loader: ServiceLoader, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
            return False
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(Loader.list_available_services(self._loader, self._type_name))

    def __len__(self) -> int:
        return len(Loader.list_available_services(self._loader, self._type_name))


class PlainJSONFileLoader(JSONFileLoader):  # type: ignore[misc]  # botocore has no type hints
    """botocore's model files (``.json``, else ``.json.gz``) read into plain dicts."""

    def load_file(self, file_path: str) -> Any:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            try:
                with opener(file_path + suffix, "rb") as stream:
                    payload = stream.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            return json.loads(payload)
        return None


def parse_timestamp(value: Any) -> datetime:
    """``value`` as an aware datetime: ISO 8601 by the standard library, the rest by botocore."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    result: datetime = botocore_parse_timestamp(value)
    return result
