"""Templates across a whole deployment, filled in as Prefect's ``prefect deploy`` fills them.

Prefect resolves the blocks, variables and environment variables in every field of a deployment
(``name``, ``version``, ``description``, ``entrypoint``, ``parameters``, ``tags``, ``work_pool``
with its ``job_variables``, ``schedules``...), then the outputs of the build and push steps. The
steps are left to the step engine, the ``parameters`` of ``triggers`` keep their event templates,
and ``{{ ctx.* }}`` is left for Prefect's workers. codeferry resolves the same fields with the
strictness of step arguments: a reference that cannot be resolved is an error naming the file,
the deployment and the field, never literal text.

Each command resolves what it uses: ``pull`` the name (to find the deployment), ``run`` the name,
``entrypoint`` and ``parameters``, and ``push`` (the counterpart of ``prefect deploy``) every
field, with the outputs of the build and push steps it ran.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from codeferry.errors import DeploymentFileError, TemplateError
from codeferry.templating import Reference, TemplateContext, parse_template, resolve_templates

if TYPE_CHECKING:
    from codeferry.deployments import Deployment, DeploymentFile

__all__ = ["deployment_name", "find_deployment", "listed_name", "resolve_deployment"]

_OWN_FIELDS = ("name", "entrypoint", "description", "parameters")
_WORKER_TEMPLATES = "ctx"  # {{ ctx.* }}: filled in by Prefect's workers when a run starts


def resolve_deployment(
    deployment: Deployment,
    context: TemplateContext | None = None,
    *,
    fields: Iterable[str] | None = None,
) -> Deployment:
    """``deployment`` with the templates of ``fields`` (default: all but its steps) resolved.

    :param context: what references resolve against; step outputs are those of the build and
        push steps (``push``) or the ones ``codeferry push`` recorded (``run``).
    :param fields: ``name``, ``entrypoint``, ``description``, ``parameters`` or any other key of
        the deployment (``work_pool``, ``schedules``...).
    :raises TemplateError: a reference cannot be resolved; names the place
        (``prefect.yaml:12:5: deployment 'etl' parameters.day``).
    """
    context = context if context is not None else TemplateContext()
    wanted = set(fields) if fields is not None else {*_OWN_FIELDS, *deployment.extra}
    try:  # errors name the deployment as people know it: by its resolved name
        named = dataclasses.replace(deployment, name=deployment_name(deployment, context))
    except TemplateError:
        named = deployment
    own = {
        key: _resolve(getattr(deployment, key), context, named, key)
        for key in _OWN_FIELDS
        if key in wanted and key != "name" and getattr(deployment, key) is not None
    }
    extra = {
        key: _resolve(value, context, named, key, role=key) if key in wanted else value
        for key, value in deployment.extra.items()
    }
    if "name" in wanted:
        own["name"] = deployment_name(deployment, context)
    return dataclasses.replace(deployment, **own, extra=extra)


def deployment_name(deployment: Deployment, context: TemplateContext | None = None) -> str | None:
    """The name of ``deployment`` with its templates resolved (always text).

    :raises TemplateError: a reference in it cannot be resolved.
    """
    if deployment.name is None:
        return None
    context = context if context is not None else TemplateContext()
    name: str = resolve_templates(
        deployment.name, context, step=_where(deployment, "name"), text=True
    )
    return name


def listed_name(deployment: Deployment) -> str | None:
    """The name to show in a listing: resolved when it can be, else as written."""
    try:
        return deployment_name(deployment)
    except TemplateError:
        return deployment.name


def find_deployment(file: DeploymentFile, name: str) -> Deployment:
    """The deployment of ``file`` whose name, templates resolved, is ``name``; or ``FLOW/NAME``.

    ``FLOW/NAME`` (Prefect's form) picks between deployments that share a name by the function
    their entrypoint names.

    :raises DeploymentFileError: none is, listing the names there are and the names that could
        not be resolved; or several are, saying where each is and how to choose.
    """
    from codeferry.deployments import twins_message

    context = TemplateContext()
    resolved: list[tuple[Deployment, str]] = []
    unresolved: list[str] = []
    for deployment in file.deployments:
        if deployment.name is None:
            continue
        try:
            resolved.append((deployment, str(deployment_name(deployment, context))))
        except TemplateError as error:
            unresolved.append(f"{deployment.name} ({_cause(error)})")
    found = [deployment for deployment, resolved_name in resolved if resolved_name == name]
    if not found and "/" in name:
        flow, _, short = name.partition("/")
        found = [
            deployment
            for deployment, resolved_name in resolved
            if resolved_name == short and deployment.flow_name == flow.replace("-", "_")
        ]
    if len(found) == 1:
        return found[0]
    if found:
        raise DeploymentFileError(f"{file.shown}: {twins_message(name, found)}")
    known = [resolved_name for _, resolved_name in resolved]
    listing = f"; it has: {', '.join(known)}" if known else ""
    if unresolved:
        listing += f"; names that cannot be resolved: {', '.join(unresolved)}"
    listing = listing or "; it has no named deployments"
    raise DeploymentFileError(f"{file.shown} has no deployment {name!r}{listing}")


def _cause(error: TemplateError) -> str:
    """Why a template error's reference could not be resolved (the end of its message)."""
    text = str(error)
    marker = ": cannot resolve "
    if marker not in text:
        return text
    return text.split(marker, 1)[1].partition("}}: ")[2] or text


def _where(deployment: Deployment, path: str, place: str | None = None) -> str:
    """``file:line:column: deployment 'name' path`` (``place``: a nearer ``file:line:column``)."""
    place = place or deployment.location
    name = f"deployment {deployment.name!r}" if deployment.name is not None else "deployment"
    return f"{place}: {name} {path}" if place else f"{name} {path}"


def _resolve(
    value: Any,
    context: TemplateContext,
    deployment: Deployment,
    path: str,
    *,
    place: str | None = None,
    role: str = "",
) -> Any:
    """``value`` resolved, errors naming the field's path and the nearest line of the file.

    ``role`` is ``"triggers"`` for the list of triggers and ``"trigger"`` for one of them, whose
    ``parameters`` keep their event templates (``{{ event.name }}``), as Prefect keeps them.
    """
    if isinstance(value, str):
        return _resolve_text(value, context, _where(deployment, path, place))
    if isinstance(value, Mapping):
        inner = _place(deployment, value) or place
        return {
            key: item
            if role == "trigger" and key == "parameters"
            else _resolve(item, context, deployment, f"{path}.{key}", place=inner)
            for key, item in value.items()
        }
    if isinstance(value, list):
        item_role = "trigger" if role == "triggers" else ""
        return [
            _resolve(item, context, deployment, f"{path}[{index}]", place=place, role=item_role)
            for index, item in enumerate(value)
        ]
    return value


def _place(deployment: Deployment, mapping: Any) -> str | None:
    """``file:line:column`` where ``mapping`` starts, when the file said it."""
    mark = getattr(mapping, "mark", None)
    file = (deployment.location or "").rsplit(":", 2)[0]
    if not mark or mark == (0, 0) or not file:
        return None
    return f"{file}:{mark[0]}:{mark[1]}"


def _resolve_text(text: str, context: TemplateContext, where: str) -> Any:
    parts = parse_template(text)
    if not any(_for_workers(part) for part in parts):
        return resolve_templates(text, context, step=where)
    return "".join(
        part
        if isinstance(part, str)
        else part.source
        if _for_workers(part)
        else resolve_templates(part.source, context, step=where, text=True)
        for part in parts
    )


def _for_workers(part: str | Reference) -> bool:
    return (
        isinstance(part, Reference) and part.kind == "output" and part.path[0] == _WORKER_TEMPLATES
    )
