"""The plugin API: the codeferry modules a plugin may import, and what each gives it.

A plugin (or an integration built on codeferry) imports the names in ``__all__`` of these modules
and nothing else of codeferry's. They are what the versioning promise covers
(``docs/hook-versioning.md``): between two releases of one minor line they change only by
addition, and a name goes only after a deprecation. Any other module, or a name starting with an
underscore, may change in any release. ``tests/core/test_plugin_api.py`` fails when an in-tree
plugin or integration imports outside this list, and when the versioning page does not name
every module in it.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["PUBLIC_MODULES"]

PUBLIC_MODULES = MappingProxyType(
    {
        "codeferry": "hookimpl, and the names in codeferry.__all__",
        "codeferry.hookspecs": "the hooks and the types of their register callbacks",
        "codeferry.storage": "CodeStorage, PullContext and what a pull or a push returns",
        "codeferry.blocks": "Block and Secret: block types, saved with their secrets encrypted",
        "codeferry.errors": "the errors a plugin raises (PullError, PushError, UnsafePathError...)",
        "codeferry.paths": "safe_join, safe_relative_path: paths from storage stay inside",
        "codeferry.secrets": "the secret policy: remember, mask, redact_url",
        "codeferry.settings": "CODEFERRY_* settings, read one way: flag, seconds, names",
        "codeferry.timeouts": "how long every network transport waits, and naming a silent server",
        "codeferry.digests": "sha256: SHA-256 for derived names, without loading OpenSSL",
        "codeferry.home": "refuse_own_folder, OwnFolders: codeferry's home is never code",
        "codeferry.walk": "walk_files: the one walk over a user's folder that a push makes",
        "codeferry.progress": "TransferProgress: a progress display for long pulls and pushes",
        "codeferry.ignore": "files_to_push: the files any push sends (ignore files, tooling)",
        "codeferry.remote": "RemoteStorage: the engine for object stores reached through fsspec",
        "codeferry.remote.quick_http": "plain HTTP for a store's quick listing, without its SDK",
        "codeferry.steps.context": "steps that resolve their own templates and write outputs",
        "codeferry.checkouts": "Checkout and link_version: where pulled code lands (integrations)",
        "codeferry.testing": "the storage conformance kit (install codeferry[testing])",
    }
)
