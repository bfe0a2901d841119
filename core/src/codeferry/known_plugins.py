"""Which distribution to install for a source, block type or step that no installed plugin provides.

This table only produces install hints ("pip install codeferry-s3"); it never decides what a
source *is*. Resolution is always done by the installed plugins through the hook spec.
"""

from __future__ import annotations

import re

__all__ = [
    "distribution_for_block_type",
    "distribution_for_requirement",
    "distribution_for_source",
    "distribution_for_step",
]

# Every table below is kept true by tests/core/test_known_plugins.py, which loads each plugin under
# plugins/ through its entry point: each name here is registered (or claimed) by the distribution
# it names, and each name an in-tree plugin registers is here. So a hint never sends anyone to
# install a distribution that would not help.

_SCHEMES = {
    "s3": "codeferry-s3",
    "s3a": "codeferry-s3",
    "gs": "codeferry-gcs",
    "gcs": "codeferry-gcs",
    "az": "codeferry-azure",
    "abfs": "codeferry-azure",
    "abfss": "codeferry-azure",
    "docker": "codeferry-docker",
    "oci": "codeferry-docker",
    "git": "codeferry-git",
    "ssh": "codeferry-git",
    "git+https": "codeferry-git",
    "git+http": "codeferry-git",
    "git+ssh": "codeferry-git",
    "file": "codeferry-local",
}

_HOSTS = {
    "github.com": "codeferry-github",
    "gitlab.com": "codeferry-gitlab",
    "bitbucket.org": "codeferry-bitbucket",
}
# A host plugin claims repositories only (owner/repo; on GitLab group/subgroup/.../repo), not the
# archives, release assets, raw files and pages under them, so it is hinted for repositories only.
_NESTED_GROUP_HOSTS = frozenset({"gitlab.com"})
_RESERVED_SEGMENTS = frozenset({"-", "blob", "raw", "tree"})
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".whl")

_BLOCK_TYPES = {
    "codeferry-azure": ("azure-blob-storage-container", "azure-blob-storage-credentials"),
    "codeferry-bitbucket": ("bitbucket-credentials", "bitbucket-repository"),
    "codeferry-docker": ("docker-registry-credentials", "oci-image"),
    "codeferry-gcs": ("gcp-credentials", "gcs-bucket"),
    "codeferry-git": ("git-credentials", "git-repository", "ssh-key"),
    "codeferry-github": ("github-app-credentials", "github-credentials", "github-repository"),
    "codeferry-gitlab": ("gitlab-credentials", "gitlab-repository"),
    "codeferry-local": ("local-directory",),
    "codeferry-s3": ("aws-credentials", "minio-credentials", "s3-bucket"),
}

# Each step by every name it is registered under: short, fully qualified, and Prefect's aliases.
_STEPS = {
    "codeferry-azure": (
        "pull_from_azure_blob_storage",
        "push_to_azure_blob_storage",
        "codeferry_azure.steps.pull_from_azure_blob_storage",
        "codeferry_azure.steps.push_to_azure_blob_storage",
        "prefect_azure.deployments.steps.pull_from_azure_blob_storage",
        "prefect_azure.deployments.steps.push_to_azure_blob_storage",
    ),
    "codeferry-docker": (
        "build_code_layer",
        "build_docker_image",
        "pull_from_image",
        "push_docker_image",
        "codeferry_docker.steps.build_code_layer",
        "codeferry_docker.steps.build_docker_image",
        "codeferry_docker.steps.pull_from_image",
        "codeferry_docker.steps.push_docker_image",
        "prefect_docker.deployments.steps.build_docker_image",
        "prefect_docker.deployments.steps.push_docker_image",
    ),
    "codeferry-gcs": (
        "pull_from_gcs",
        "push_to_gcs",
        "codeferry_gcs.steps.pull_from_gcs",
        "codeferry_gcs.steps.push_to_gcs",
        "prefect_gcp.deployments.steps.pull_from_gcs",
        "prefect_gcp.deployments.steps.push_to_gcs",
    ),
    "codeferry-git": (
        "git_clone",
        "codeferry_git.steps.git_clone",
        "prefect.deployments.steps.git_clone",
        "prefect.deployments.steps.pull.git_clone",
    ),
    "codeferry-local": (
        "pull_from_directory",
        "set_working_directory",
        "codeferry_local.steps.pull_from_directory",
        "codeferry_local.steps.set_working_directory",
        "prefect.deployments.steps.set_working_directory",
        "prefect.deployments.steps.pull.set_working_directory",
    ),
    "codeferry-s3": (
        "pull_from_s3",
        "push_to_s3",
        "codeferry_s3.steps.pull_from_s3",
        "codeferry_s3.steps.push_to_s3",
        "prefect_aws.deployments.steps.pull_from_s3",
        "prefect_aws.deployments.steps.push_to_s3",
    ),
}

# What a step's ``requires:`` names (Prefect's integration packages) -> the codeferry plugin that
# provides that package's steps (only packages whose replacement registers steps).
_REQUIREMENTS = {
    "prefect-aws": "codeferry-s3",
    "prefect-gcp": "codeferry-gcs",
    "prefect-azure": "codeferry-azure",
    "prefect-docker": "codeferry-docker",
}

_BY_BLOCK_TYPE = {slug: dist for dist, slugs in _BLOCK_TYPES.items() for slug in slugs}
_BY_STEP = {name: dist for dist, names in _STEPS.items() for name in names}

_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)([^?#]*)")
_SCP_LIKE_RE = re.compile(r"^[\w.-]+@[\w.-]+:")


def distribution_for_source(source: str) -> str | None:
    """The distribution whose plugin would understand ``source``, if the table knows it."""
    match = _SCHEME_RE.match(source)
    if match:
        scheme, host = match.group(1).lower(), match.group(2).rsplit("@", 1)[-1].lower()
        if scheme in {"http", "https"}:
            if host in _HOSTS and _is_repository_path(match.group(3), host in _NESTED_GROUP_HOSTS):
                return _HOSTS[host]
            return "codeferry-git" if source.rstrip("/").endswith(".git") else None
        return _SCHEMES.get(scheme)
    if _SCP_LIKE_RE.match(source) or source.rstrip("/").endswith(".git"):
        return "codeferry-git"
    return None


def _is_repository_path(path: str, nested: bool) -> bool:
    segments = path.strip("/").split("/")
    if segments[-1].lower().endswith(_ARCHIVE_SUFFIXES) or not all(segments):
        return False
    if nested:
        return len(segments) >= 2 and not _RESERVED_SEGMENTS.intersection(segments[1:])
    return len(segments) == 2


def distribution_for_block_type(slug: str) -> str | None:
    """The distribution that provides the block type ``slug``, if the table knows it."""
    return _BY_BLOCK_TYPE.get(slug)


def distribution_for_step(name: str) -> str | None:
    """The distribution that registers a step under ``name``, if the table knows it."""
    return _BY_STEP.get(name)


def distribution_for_requirement(requirement: str) -> str | None:
    """The codeferry distribution for a step's ``requires:`` entry (``prefect-aws>=0.3``).

    A ``codeferry-*`` requirement names itself; Prefect's integration packages map to the plugin
    that replaces them; anything else gives ``None`` (the table does not know it).
    """
    match = _REQUIREMENT_NAME_RE.match(requirement)
    if match is None:
        return None
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    if name.startswith("codeferry-"):
        return name
    return _REQUIREMENTS.get(name)
