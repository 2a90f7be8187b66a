"""Kubernetes objects the operator creates, built as plain dicts by pure functions.

The reset/promote Jobs and the BlueGreen shadow Deployment are derived from the projection
Deployment itself: same image, environment, service account and security contexts, so a
replay runs exactly the code and configuration the projection runs. Everything created for a
replay is owned by the ProjectionReplay (garbage-collected with it) and labelled with it.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from readside_core.admin_commands import PROGRAM
from readside_operator.names import label_value

REPLAY_LABEL = "readside.io/replay"
SHADOW_OF_LABEL = "readside.io/shadow-of"
COMPONENT_LABEL = "app.kubernetes.io/component"
# Annotations on the Projection while a replay holds it.
LOCK_ANNOTATION = "readside.io/replay"  # the one active replay of this projection
PAUSE_ANNOTATION = "readside.io/autoscaling-paused-by"  # the autoscaler stands aside
RESTART_ANNOTATION = "readside.io/restarted-at"

JOB_REQUESTS = {"cpu": "10m", "memory": "64Mi"}


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }


def _projection_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if container.get("name") == "projection":
            return dict(container)
    return dict(containers[0])


def _with_env(env: list[dict[str, Any]], overrides: dict[str, str]) -> list[dict[str, Any]]:
    kept = [e for e in env if e.get("name") not in overrides]
    return kept + [{"name": k, "value": v} for k, v in overrides.items()]


def projection_job(
    replay: dict[str, Any],
    deployment: dict[str, Any],
    name: str,
    args: list[str],
    env: dict[str, str] | None = None,
    init_args: list[str] | None = None,
) -> dict[str, Any]:
    """A Job running `readside-projection ARGS` with the projection Deployment's pod setup."""
    pod = deployment["spec"]["template"]["spec"]
    container = _job_container(_projection_container(deployment), args, env or {})
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "enableServiceLinks": False,
    }
    if init_args is not None:
        spec["initContainers"] = [{**container, "name": "prepare", "args": init_args}]
    for key in ("serviceAccountName", "securityContext", "imagePullSecrets", "volumes"):
        if key in pod:
            spec[key] = copy.deepcopy(pod[key])
    labels = {
        REPLAY_LABEL: label_value(replay["metadata"]["name"]),
        COMPONENT_LABEL: "projection-replay",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": replay["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(replay)],
        },
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def _job_container(source: dict[str, Any], args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """The projection container running one command instead of the projection."""
    container: dict[str, Any] = {
        "name": "projection",
        "image": source["image"],
        "command": [PROGRAM],
        "args": args,
        "env": _with_env(source.get("env", []), env),
    }
    for key in ("imagePullPolicy", "envFrom", "securityContext", "volumeMounts"):
        if key in source:
            container[key] = copy.deepcopy(source[key])
    # A short, mostly idle command: small requests (it must schedule on a busy node), the
    # projection's limits.
    limits = (source.get("resources") or {}).get("limits")
    container["resources"] = {
        "requests": dict(JOB_REQUESTS),
        **({"limits": limits} if limits else {}),
    }
    return container


def shadow_deployment(
    replay: dict[str, Any],
    deployment: dict[str, Any],
    name: str,
    env: dict[str, str],
    replicas: int,
) -> dict[str, Any]:
    """A copy of the projection Deployment writing another read-model version.

    Its component label differs, so neither the live Deployment's selector nor the
    projection's Service and PodDisruptionBudget match its pods.
    """
    meta = deployment["metadata"]
    spec = copy.deepcopy(deployment["spec"])
    ours = {SHADOW_OF_LABEL: label_value(meta["name"])}
    ours[REPLAY_LABEL] = label_value(replay["metadata"]["name"])
    labels = {**meta.get("labels", {}), COMPONENT_LABEL: "projection-shadow", **ours}
    _select_shadow(spec, ours[REPLAY_LABEL])
    spec["template"]["metadata"]["labels"][SHADOW_OF_LABEL] = ours[SHADOW_OF_LABEL]
    containers = spec["template"]["spec"]["containers"]
    for index, container in enumerate(containers):
        if container.get("name") == "projection" or index == 0:
            container["env"] = _with_env(container.get("env", []), env)
            break
    spec["replicas"] = replicas
    spec.pop("paused", None)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(replay)],
        },
        "spec": spec,
    }


def _select_shadow(spec: dict[str, Any], replay: str) -> None:
    """The shadow's selector and pod labels: its own component, its replay."""
    spec["selector"] = {
        "matchLabels": {
            **spec["selector"].get("matchLabels", {}),
            COMPONENT_LABEL: "projection-shadow",
            REPLAY_LABEL: replay,
        }
    }
    template_labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    template_labels.update(spec["selector"]["matchLabels"])


def set_condition(
    conditions: list[dict[str, Any]] | None,
    kind: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The conditions with `kind` set; lastTransitionTime moves only when the status does."""
    word = "True" if status else "False"
    previous = next((c for c in conditions or [] if c.get("type") == kind), None)
    since = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == word and previous.get("lastTransitionTime")
        else now.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    entry = {
        "type": kind,
        "status": word,
        "reason": reason,
        "message": message[:1000],
        "lastTransitionTime": since,
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    return [c for c in conditions or [] if c.get("type") != kind] + [entry]


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def active_consumer_group(projection: dict[str, Any]) -> str:
    """The group the live projection consumes with (a BlueGreen replay may have moved it)."""
    status = projection.get("status") or {}
    moved = (status.get("readModel") or {}).get("consumerGroup")
    return str(moved or projection["spec"]["consumerGroup"])
