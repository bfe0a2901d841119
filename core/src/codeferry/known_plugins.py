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

_SCHEMES = {
    "s3": "codeferry-s3",
    "s3a": "codeferry-s3",
    "gs": "codeferry-gcs",
    "gcs": "codeferry-gcs",
    "az": "codeferry-azure",
    "abfs": "codeferry-azure",
    "abfss": "codeferry-azure",
    "adl": "codeferry-azure",
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

_BLOCK_TYPES = {
    "local-directory": "codeferry-local",
    "git-repository": "codeferry-git",
    "git-credentials": "codeferry-git",
    "ssh-key": "codeferry-git",
    "github-credentials": "codeferry-github",
    "github-app-credentials": "codeferry-github",
    "github-repository": "codeferry-github",
    "gitlab-credentials": "codeferry-gitlab",
    "gitlab-repository": "codeferry-gitlab",
    "bitbucket-credentials": "codeferry-bitbucket",
    "bitbucket-repository": "codeferry-bitbucket",
    "aws-credentials": "codeferry-s3",
    "minio-credentials": "codeferry-s3",
    "s3-bucket": "codeferry-s3",
    "azure-blob-storage-credentials": "codeferry-azure",
    "azure-blob-storage-container": "codeferry-azure",
    "gcp-credentials": "codeferry-gcs",
    "gcs-bucket": "codeferry-gcs",
    "docker-registry-credentials": "codeferry-docker",
    "docker-host": "codeferry-docker",
}

# Module prefixes of steps, longest first wins; Prefect's names included so prefect.yaml files hint.
_STEP_PREFIXES = {
    "codeferry_local.": "codeferry-local",
    "codeferry_git.": "codeferry-git",
    "codeferry_github.": "codeferry-github",
    "codeferry_gitlab.": "codeferry-gitlab",
    "codeferry_bitbucket.": "codeferry-bitbucket",
    "codeferry_s3.": "codeferry-s3",
    "codeferry_azure.": "codeferry-azure",
    "codeferry_gcs.": "codeferry-gcs",
    "codeferry_docker.": "codeferry-docker",
    "prefect.deployments.steps.git_clone": "codeferry-git",
    "prefect.deployments.steps.set_working_directory": "codeferry-local",
    "prefect.deployments.steps.pull.git_clone": "codeferry-git",
    "prefect.deployments.steps.pull.set_working_directory": "codeferry-local",
    "prefect_aws.": "codeferry-s3",
    "prefect_gcp.": "codeferry-gcs",
    "prefect_azure.": "codeferry-azure",
    "prefect_docker.": "codeferry-docker",
    "prefect_github.": "codeferry-github",
    "prefect_gitlab.": "codeferry-gitlab",
    "prefect_bitbucket.": "codeferry-bitbucket",
}

_SHORT_STEPS = {
    "git_clone": "codeferry-git",
    "set_working_directory": "codeferry-local",
    "pull_from_directory": "codeferry-local",
    "pull_from_s3": "codeferry-s3",
    "push_to_s3": "codeferry-s3",
    "pull_from_gcs": "codeferry-gcs",
    "push_to_gcs": "codeferry-gcs",
    "pull_from_azure_blob_storage": "codeferry-azure",
    "push_to_azure_blob_storage": "codeferry-azure",
    "build_docker_image": "codeferry-docker",
    "push_docker_image": "codeferry-docker",
    "build_code_layer": "codeferry-docker",
}

# What a step's ``requires:`` names (Prefect's integration packages) -> the codeferry plugin.
_REQUIREMENTS = {
    "prefect-aws": "codeferry-s3",
    "prefect-gcp": "codeferry-gcs",
    "prefect-azure": "codeferry-azure",
    "prefect-docker": "codeferry-docker",
    "prefect-github": "codeferry-github",
    "prefect-gitlab": "codeferry-gitlab",
    "prefect-bitbucket": "codeferry-bitbucket",
}

_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]*)")
_SCP_LIKE_RE = re.compile(r"^[\w.-]+@[\w.-]+:")


def distribution_for_source(source: str) -> str | None:
    """The distribution whose plugin would understand ``source``, if the table knows it."""
    match = _SCHEME_RE.match(source)
    if match:
        scheme, host = match.group(1).lower(), match.group(2).rsplit("@", 1)[-1].lower()
        if scheme in {"http", "https"}:
            if host in _HOSTS:
                return _HOSTS[host]
            return "codeferry-git" if source.rstrip("/").endswith(".git") else None
        return _SCHEMES.get(scheme)
    if _SCP_LIKE_RE.match(source) or source.rstrip("/").endswith(".git"):
        return "codeferry-git"
    return None


def distribution_for_block_type(slug: str) -> str | None:
    """The distribution that provides the block type ``slug``, if the table knows it."""
    return _BLOCK_TYPES.get(slug)


def distribution_for_step(name: str) -> str | None:
    """The distribution that provides the step ``name``, if the table knows it."""
    if name in _SHORT_STEPS:
        return _SHORT_STEPS[name]
    for prefix in sorted(_STEP_PREFIXES, key=len, reverse=True):
        if name.startswith(prefix):
            return _STEP_PREFIXES[prefix]
    return None


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
