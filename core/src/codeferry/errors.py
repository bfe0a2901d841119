"""The exceptions codeferry raises for things a user can fix.

Every :class:`CodeferryError` carries a one-line message meant for the user: the command line prints
it as ``Error: <message>`` and exits with status 1, without a traceback. Messages never contain
secret values: ``str(error)`` masks every secret the process knows (:func:`codeferry.secrets.mask`),
so a server's answer quoted in a message, or a traceback, cannot show one.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "BlockError",
    "BlockNotFoundError",
    "BlockSchemaError",
    "BlockTypeNotFoundError",
    "CodeferryError",
    "DeploymentFileError",
    "DuplicateRegistrationError",
    "EntrypointError",
    "ImportStepNotAllowedError",
    "MissingPluginError",
    "PluginError",
    "PullError",
    "PushError",
    "PushNotSupportedError",
    "SettingError",
    "SourceNotSupportedError",
    "StepError",
    "StepTimeoutError",
    "StoreError",
    "StoreKeyError",
    "TemplateError",
    "UnsafePathError",
    "UserCodeError",
    "VariableNotFoundError",
    "describe_os_error",
]


class CodeferryError(Exception):
    """Base class of the errors a user can act on; ``str(error)`` is a one-line cause."""

    def __str__(self) -> str:
        from codeferry.secrets import mask

        return mask(super().__str__())


class PluginError(CodeferryError):
    """A plugin failed to load, or one of its hooks raised."""


class DuplicateRegistrationError(PluginError):
    """Two plugins registered the same block type slug or step name."""


class MissingPluginError(CodeferryError, LookupError):
    """Something names a backend whose plugin is not installed.

    ``distribution`` is the distribution to install, when it is known.
    """

    def __init__(self, message: str, distribution: str | None = None) -> None:
        if distribution:
            message = f"{message}; install it with: pip install {distribution}"
        super().__init__(message)
        self.distribution = distribution


class SourceNotSupportedError(MissingPluginError):
    """No installed plugin understands a source."""


class BlockError(CodeferryError):
    """A block could not be saved, loaded or validated."""


class BlockTypeNotFoundError(BlockError, MissingPluginError):
    """No block type is known under a slug."""


class BlockNotFoundError(BlockError, LookupError):
    """No block document is saved under a type and name."""


class BlockSchemaError(BlockError):
    """A saved block document no longer fits its block type's schema."""


class SettingError(CodeferryError, ValueError):
    """A ``CODEFERRY_*`` environment variable holds a value that cannot be parsed."""


class StoreError(CodeferryError):
    """The block store cannot be opened or written."""


class StoreKeyError(StoreError):
    """The block store was encrypted with a different key than the one given."""


class VariableNotFoundError(CodeferryError, LookupError):
    """No variable is set under a name."""


class UnsafePathError(CodeferryError, ValueError):
    """A path from storage would land outside the destination, or is not a valid file name."""


class PullError(CodeferryError):
    """Code could not be pulled from its storage."""


class PushError(CodeferryError):
    """Code could not be pushed to its storage."""


class PushNotSupportedError(CodeferryError):
    """A storage cannot receive code."""


class EntrypointError(CodeferryError):
    """An entrypoint is malformed, or cannot be found or loaded from the pulled code."""


class UserCodeError(CodeferryError):
    """The code being run raised; ``__cause__`` is its exception, whose traceback is shown."""


class DeploymentFileError(CodeferryError):
    """A deployment file is missing, is not valid YAML, or does not have the expected shape.

    The message starts with ``file:line:column`` when the place is known.
    """


class TemplateError(CodeferryError):
    """A ``{{ reference }}`` in a step's arguments cannot be resolved; names the step and it."""


class ImportStepNotAllowedError(CodeferryError):
    """A step is named by an import path, and running import paths was not allowed."""


class StepError(CodeferryError):
    """A deployment-file step failed: which step, its arguments (secrets masked), the cause."""


class StepTimeoutError(CodeferryError, TimeoutError):
    """A step ran longer than its ``timeout``."""


def describe_os_error(error: OSError) -> str:
    """``error`` as one line: its cause, the errno's name and the file(s) it is about.

    ``No space left on device (ENOSPC): /srv/code/flow.py``
    """
    cause = error.strerror or str(error) or type(error).__name__
    name = errno.errorcode.get(error.errno) if isinstance(error.errno, int) else None
    text = f"{cause} ({name})" if name else cause
    files = [os.fsdecode(f) for f in (error.filename, error.filename2) if f is not None]
    return f"{text}: {' -> '.join(files)}" if files else text
