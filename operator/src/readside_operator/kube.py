"""The operator's Kubernetes calls (lightkube), as plain dicts in and out.

kopf watches Projection and ProjectionReplay and runs the handlers; everything else the
operator reads or changes goes through this one class, so the handlers read as the steps of
the design and the RBAC in the chart lists exactly these calls.
"""

from __future__ import annotations

from typing import Any, cast

import kopf
from lightkube import ApiError, AsyncClient, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.types import CascadeType, PatchType

GROUP, VERSION = "readside.io", "v1alpha1"
# On a ProjectionReplay while it holds its projection: deleting it then releases first.
REPLAY_FINALIZER = "readside.io/release-projection"
Projection = create_namespaced_resource(GROUP, VERSION, "Projection", "projections")
ProjectionReplay = create_namespaced_resource(
    GROUP, VERSION, "ProjectionReplay", "projectionreplays"
)
_KINDS: dict[str, Any] = {
    "Projection": Projection,
    "ProjectionReplay": ProjectionReplay,
    "Deployment": Deployment,
    "Job": Job,
}


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else obj.to_dict()


class Conflict(RuntimeError):
    """The object changed since it was read (optimistic concurrency lost)."""


class Kube:
    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager="readside-operator")

    async def close(self) -> None:
        await self.client.close()

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _as_dict(await self.client.get(_KINDS[kind], name, namespace=namespace))
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise

    async def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """A JSON merge patch; with metadata.resourceVersion in it, a Conflict if it moved."""
        try:
            await self.client.patch(
                _KINDS[kind], name, patch, namespace=namespace, patch_type=PatchType.MERGE
            )
        except ApiError as exc:
            if exc.status.code == 409:
                raise Conflict(str(exc)) from None
            raise

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> None:
        try:
            await self.client.patch(
                _KINDS[kind].Status,
                name,
                {"status": status},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            if exc.status.code != 404:  # deleted meanwhile: nothing to report on
                raise

    async def add_finalizer(self, kind: str, namespace: str, name: str) -> None:
        await self._set_finalizer(kind, namespace, name, present=True)

    async def remove_finalizer(self, kind: str, namespace: str, name: str) -> None:
        await self._set_finalizer(kind, namespace, name, present=False)

    async def _set_finalizer(self, kind: str, namespace: str, name: str, *, present: bool) -> None:
        """Add or drop REPLAY_FINALIZER, with optimistic concurrency (retried on conflict)."""
        for _ in range(10):
            current = await self.get(kind, namespace, name)
            if current is None:
                return
            meta = current["metadata"]
            finalizers = [f for f in meta.get("finalizers") or [] if f != REPLAY_FINALIZER]
            if present:
                finalizers.append(REPLAY_FINALIZER)
            if finalizers == (meta.get("finalizers") or []):
                return
            patch = {
                "metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}
            }
            try:
                await self.patch(kind, namespace, name, patch)
                return
            except Conflict:
                continue
        raise Conflict(f"{kind} {namespace}/{name} kept changing; finalizer not updated")

    async def replicas(self, namespace: str, deployment: str) -> tuple[int, int]:
        """(spec replicas, pods running) of a Deployment, from its scale subresource."""
        scale = await self.client.get(Deployment.Scale, deployment, namespace=namespace)
        spec, status = scale.spec, scale.status
        return ((spec and spec.replicas) or 0), ((status and status.replicas) or 0)

    async def scale(self, namespace: str, deployment: str, replicas: int) -> None:
        await self.client.patch(
            Deployment.Scale,
            deployment,
            {"spec": {"replicas": replicas}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    async def create(self, obj: dict[str, Any]) -> bool:
        """Create unless an object of that name exists; True when created."""
        try:
            await self.client.create(codecs.from_dict(obj))
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise
        return True

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete with its dependents (a Job's pods); absent is fine."""
        try:
            await self.client.delete(
                _KINDS[kind], name, namespace=namespace, cascade=CascadeType.BACKGROUND
            )
        except ApiError as exc:
            if exc.status.code != 404:
                raise


def post_event(obj: dict[str, Any], reason: str, message: str, *, warning: bool = False) -> None:
    """A Kubernetes Event on `obj` (kopf posts it in the background)."""
    post = kopf.warn if warning else kopf.info
    post(cast(kopf.Body, obj), reason=reason, message=message)
