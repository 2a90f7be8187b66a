"""`readside-operator apply-crds DIR`: server-side apply the CustomResourceDefinitions in DIR
and wait until they are served.

Helm installs a chart's crds/ once and never upgrades them, so the chart runs this as a
pre-install/pre-upgrade hook (its crds/ mounted from a ConfigMap): an upgrade brings the
CRDs along before the operator that needs them starts. Anyone can run it by hand too.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lightkube import AsyncClient, codecs
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

FIELD_MANAGER = "readside-operator"


class NotACrd(ValueError):
    """A file in the folder holds something other than CustomResourceDefinitions."""


def load_crds(folder: Path) -> list[CustomResourceDefinition]:
    """Every CRD in the folder's *.yaml files, in file order."""
    found: list[CustomResourceDefinition] = []
    for path in sorted(folder.glob("*.yaml")):
        for obj in codecs.load_all_yaml(path.read_text()):
            if not isinstance(obj, CustomResourceDefinition):
                raise NotACrd(f"{path} holds a {obj.kind}: only CustomResourceDefinitions go here")
            found.append(obj)
    if not found:
        raise NotACrd(f"no CustomResourceDefinition in {folder}/*.yaml")
    return found


async def apply_crds(folder: Path, wait_seconds: float = 60.0) -> list[str]:
    """Apply (taking over fields another manager, e.g. helm, set) and wait for Established."""
    crds = load_crds(folder)
    client = AsyncClient(field_manager=FIELD_MANAGER)
    try:
        for crd in crds:
            await client.apply(crd, field_manager=FIELD_MANAGER, force=True)
        names = [str(crd.metadata.name) for crd in crds if crd.metadata is not None]
        for name in names:
            await _established(client, name, time.monotonic() + wait_seconds)
        return names
    finally:
        await client.close()


async def _established(client: AsyncClient, name: str, deadline: float) -> None:
    while True:
        crd = await client.get(CustomResourceDefinition, name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} applied but not Established in time")
        await asyncio.sleep(0.5)
