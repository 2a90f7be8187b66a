"""Carrying out a ProjectionReplay: observe, ask the phase machine, act, record.

All of the replay's state lives in its status (phase, the replicas to restore, the group and
read-model version it works on), so an operator restarted in mid-replay resumes from there;
every action is idempotent (Jobs and the shadow Deployment have fixed names; creating one
that exists is a no-op).

The Projection carries two annotations while a replay holds it: LOCK (one active replay per
projection, taken with optimistic concurrency) and PAUSE (the autoscaler stands aside; an
InPlace replay lifts it once the reset is done, so autoscaling scales out on the backlog).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from readside_kafka import KafkaLookupError, ResetError, ResetTarget
from readside_operator import metrics
from readside_operator.kube import Conflict, job_state, post_event, rolled_out
from readside_operator.replay import (
    InvalidReplay,
    Observed,
    Phase,
    ReplaySpec,
    Step,
    Strategy,
    check_partitions,
    next_phase,
    parse_spec,
    progress,
)
from readside_operator.resources import (
    LOCK_ANNOTATION,
    PAUSE_ANNOTATION,
    RESTART_ANNOTATION,
    child_name,
    projection_job,
    schema_name,
    set_condition,
    shadow_deployment,
    timestamp,
)
from readside_operator.runtime import Runtime, active_consumer_group

PUBLIC_SCHEMA = "public"


def _names(replay: dict[str, Any], projection: dict[str, Any]) -> dict[str, str]:
    name = replay["metadata"]["name"]
    return {
        "reset": child_name(name, "reset"),
        "promote": child_name(name, "promote"),
        "drop": child_name(name, "drop"),
        "shadow": child_name(projection["spec"]["deployment"], name),
    }


class Replayer:
    """One round of one ProjectionReplay (`step`) and its cancellation (`cancel`)."""

    def __init__(self, rt: Runtime, log: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self.rt = rt
        self.log = log

    async def step(self, replay: dict[str, Any]) -> bool:
        """Advance the replay by at most one phase; True once it has finished."""
        status = replay.get("status") or {}
        phase = Phase(status.get("phase", Phase.PENDING))
        if phase.finished:
            self._export(replay, phase)
            return True
        meta = replay["metadata"]
        try:
            spec = parse_spec(replay["spec"])
        except InvalidReplay as exc:
            await self._finish(replay, None, Phase.FAILED, "InvalidSpec", str(exc))
            return True
        projection = await self.rt.kube.get("Projection", meta["namespace"], spec.projection)
        if projection is None:
            why = (
                f"Projection {spec.projection!r} not found in namespace {meta['namespace']}: "
                "create it or fix spec.projection"
            )
            await self._finish(replay, None, Phase.FAILED, "ProjectionNotFound", why)
            return True
        if phase is not Phase.PENDING and not {"readModel", "consumerGroup"} <= status.keys():
            why = (
                "the replay's status lost its readModel/consumerGroup fields: the installed "
                "CRD is older than the operator (helm never upgrades crds/); apply the chart's "
                "crds/ with kubectl apply --server-side and create the replay again"
            )
            await self._finish(replay, projection, Phase.FAILED, "CRDOutdated", why)
            return True
        try:
            return await self._advance(replay, projection, spec, phase)
        except KafkaLookupError as exc:
            await self.rt.forget(projection["spec"]["bootstrapServers"])
            await self._record(replay, {}, phase, "KafkaUnavailable", f"{exc}; retrying")
            return False

    async def _advance(
        self, replay: dict[str, Any], projection: dict[str, Any], spec: ReplaySpec, phase: Phase
    ) -> bool:
        kube, meta, status = self.rt.kube, replay["metadata"], replay.get("status") or {}
        namespace, name = meta["namespace"], meta["name"]
        pspec = projection["spec"]
        topic, deployment = pspec["topic"], pspec["deployment"]
        inspector = await self.rt.inspector(pspec["bootstrapServers"])
        names = _names(replay, projection)
        group = status.get("consumerGroup") or active_consumer_group(projection)
        live = await kube.get("Deployment", namespace, deployment)
        if live is None:
            why = f"Deployment {deployment} of Projection {spec.projection} not found"
            await self._finish(replay, projection, Phase.FAILED, "DeploymentNotFound", why)
            return True

        seen: dict[str, Any] = {}
        if phase is Phase.PENDING:
            partitions = await inspector.partitions(topic)
            if not partitions:
                why = f"topic {topic!r} of Projection {spec.projection} does not exist"
                await self._finish(replay, projection, Phase.FAILED, "TopicNotFound", why)
                return True
            try:
                check_partitions(spec, partitions)
            except InvalidReplay as exc:
                await self._finish(replay, projection, Phase.FAILED, "InvalidSpec", str(exc))
                return True
            seen["other_replay_active"] = await self._other_holder(projection, name) is not None
        elif phase is Phase.PAUSING:
            wanted, running = await kube.replicas(namespace, deployment)
            state = await inspector.group_state(group)
            seen.update(wanted_replicas=wanted, replicas=running, group_empty=state.members == 0)
        elif phase is Phase.RESETTING:
            job = await kube.get("Job", namespace, names["reset"])
            if job is None:  # the operator stopped between the phase change and the create
                await kube.create(self._reset_job(replay, projection, live, spec, status))
            seen["reset_job"] = job_state(job) or "Running"
        elif phase is Phase.REPLAYING:
            seen["lag"] = (await inspector.lag(topic, group)).total
        elif phase is Phase.SWAPPING:
            seen["promote_job"] = job_state(await kube.get("Job", namespace, names["promote"]))
            if seen["promote_job"] is None:
                await kube.create(self._promote_job(replay, projection, live, status))
                seen["promote_job"] = "Running"
            template = live["spec"]["template"].get("metadata") or {}
            moved = (template.get("annotations") or {}).get(RESTART_ANNOTATION) == name
            seen.update(live_moved=moved, live_rolled_out=moved and rolled_out(live))

        step = next_phase(
            phase,
            spec.strategy,
            Observed(**seen),
            dry_run=spec.dry_run,
            caught_up=int(replay["spec"].get("catchUpLag", 0)),
        )
        return await self._act(replay, projection, live, spec, phase, step, status, seen)

    async def _act(
        self,
        replay: dict[str, Any],
        projection: dict[str, Any],
        live: dict[str, Any],
        spec: ReplaySpec,
        phase: Phase,
        step: Step,
        status: dict[str, Any],
        seen: dict[str, Any],
    ) -> bool:
        kube, meta = self.rt.kube, replay["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        pspec = projection["spec"]
        deployment = pspec["deployment"]
        inspector = await self.rt.inspector(pspec["bootstrapServers"])
        names = _names(replay, projection)
        update: dict[str, Any] = {}
        action = step.action

        if action == "report-offsets":
            try:
                offsets = await inspector.plan_offsets(pspec["topic"], _target(spec))
            except ResetError as exc:
                await self._finish(replay, projection, Phase.FAILED, "InvalidSpec", str(exc))
                return True
            listed = ", ".join(f"{p}:{o}" for p, o in sorted(offsets.items()))
            update["offsets"] = [{"partition": p, "offset": o} for p, o in sorted(offsets.items())]
            message = f"dry run: a reset would restart from {listed}; nothing changed"
            await self._finish(replay, projection, Phase.SUCCEEDED, "DryRun", message, update)
            return True

        if phase is Phase.PENDING and step.phase is not Phase.PENDING:
            # Our finalizer first: from here on, deleting the replay releases the projection.
            await kube.add_finalizer("ProjectionReplay", namespace, name)
            if not await self._take(projection, name):
                return False  # lost the race for the lock: next round waits in Pending
            current, _ = await kube.replicas(namespace, deployment)
            update.update(
                startTime=timestamp(datetime.now(UTC)),
                replicasBefore=current,
                consumerGroup=active_consumer_group(projection),
                readModel=_live_read_model(projection),
            )
            if spec.strategy is Strategy.BLUE_GREEN:
                update["consumerGroup"] = child_name(
                    active_consumer_group(projection), name, limit=200
                )
                update["readModel"]["schema"] = schema_name(name)
            status = {**status, **update}

        if action == "scale-to-zero":
            await kube.scale(namespace, deployment, 0)
        elif action == "run-reset-job":
            await kube.create(self._reset_job(replay, projection, live, spec, status))
        elif action == "resume":
            lag = await inspector.lag(pspec["topic"], status["consumerGroup"])
            update["startLag"] = lag.total
            partitions = max(len(lag.partitions), 1)
            replicas = min(max(int(status.get("replicasBefore") or 0), 1), partitions)
            if spec.strategy is Strategy.IN_PLACE:
                await kube.scale(namespace, deployment, replicas)
                await self._release(projection, name, lock=False)
            else:
                env = {
                    "READ_MODEL_SCHEMA": status["readModel"]["schema"],
                    "CONSUMER_GROUP": status["consumerGroup"],
                }
                await kube.create(shadow_deployment(replay, live, names["shadow"], env, replicas))
        elif action == "promote":
            await kube.create(self._promote_job(replay, projection, live, status))
        elif action == "move-live":
            # The live projection follows the live pointer on start: a restart moves it.
            new = {
                "schema": status["readModel"]["schema"],
                "consumerGroup": status["consumerGroup"],
            }
            pname = projection["metadata"]["name"]
            await kube.patch_status("Projection", namespace, pname, {"readModel": new})
            patch = {
                "spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: name}}}}
            }
            await kube.patch("Deployment", namespace, deployment, patch)

        if "lag" in seen and seen["lag"] is not None:
            update["progress"] = progress(status.get("startLag"), seen["lag"])
        if step.phase.finished:
            if step.phase is Phase.SUCCEEDED and spec.strategy is Strategy.IN_PLACE:
                update["progress"] = progress(status.get("startLag"), 0)
            reason = "Succeeded" if step.phase is Phase.SUCCEEDED else "JobFailed"
            await self._finish(replay, projection, step.phase, reason, step.message, update)
            return True
        await self._record(replay, update, step.phase, step.phase.value, step.message)
        return False

    # --- the lock and the pause, as annotations on the Projection ---------------------------

    async def _other_holder(self, projection: dict[str, Any], name: str) -> str | None:
        """The other replay holding this projection, unless it is gone or finished (stale)."""
        holder = (projection["metadata"].get("annotations") or {}).get(LOCK_ANNOTATION)
        if not holder or holder == name:
            return None
        other = await self.rt.kube.get(
            "ProjectionReplay", projection["metadata"]["namespace"], holder
        )
        if other is None or Phase((other.get("status") or {}).get("phase", "Pending")).finished:
            return None
        return str(holder)

    async def _take(self, projection: dict[str, Any], name: str) -> bool:
        meta = projection["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "annotations": {LOCK_ANNOTATION: name, PAUSE_ANNOTATION: name},
            }
        }
        try:
            await self.rt.kube.patch("Projection", meta["namespace"], meta["name"], patch)
        except Conflict:
            return False
        return True

    async def _release(self, projection: dict[str, Any], name: str, *, lock: bool = True) -> None:
        """Lift the pause (and the lock) if this replay holds them."""
        meta = projection["metadata"]
        current = await self.rt.kube.get("Projection", meta["namespace"], meta["name"])
        held = ((current or {}).get("metadata") or {}).get("annotations") or {}
        drop = {
            k: None
            for k in (PAUSE_ANNOTATION, LOCK_ANNOTATION if lock else "")
            if held.get(k) == name
        }
        if drop:
            await self.rt.kube.patch(
                "Projection", meta["namespace"], meta["name"], {"metadata": {"annotations": drop}}
            )

    # --- Jobs --------------------------------------------------------------------------------

    def _reset_job(
        self,
        replay: dict[str, Any],
        projection: dict[str, Any],
        live: dict[str, Any],
        spec: ReplaySpec,
        status: dict[str, Any],
    ) -> dict[str, Any]:
        """`reset` of the replayed version; BlueGreen creates the version first (`migrate`)."""
        read_model = status["readModel"]
        env = {"CONSUMER_GROUP": status["consumerGroup"]}
        init = None
        if spec.strategy is Strategy.BLUE_GREEN:
            env["READ_MODEL_SCHEMA"] = read_model["schema"]
            init = ["migrate"]
        else:
            env["READ_MODEL_SCHEMA"] = read_model["previousSchema"]
        return projection_job(
            replay,
            live,
            _names(replay, projection)["reset"],
            spec.reset_arguments(),
            env,
            init,
        )

    def _promote_job(
        self,
        replay: dict[str, Any],
        projection: dict[str, Any],
        live: dict[str, Any],
        status: dict[str, Any],
    ) -> dict[str, Any]:
        schema, group = status["readModel"]["schema"], status["consumerGroup"]
        args = ["promote", "--schema", schema, "--consumer-group", group]
        return projection_job(replay, live, _names(replay, projection)["promote"], args)

    # --- status, events, metrics ------------------------------------------------------------

    async def _record(
        self,
        replay: dict[str, Any],
        update: dict[str, Any],
        phase: Phase,
        reason: str,
        message: str,
    ) -> None:
        meta, status = replay["metadata"], replay.get("status") or {}
        generation = meta.get("generation")
        now = datetime.now(UTC)
        conditions = set_condition(
            status.get("conditions"),
            "Progressing",
            not phase.finished,
            reason,
            message,
            generation,
            now,
        )
        if phase.finished:
            conditions = set_condition(
                conditions, "Complete", phase is Phase.SUCCEEDED, reason, message, generation, now
            )
            conditions = set_condition(
                conditions, "Failed", phase is Phase.FAILED, reason, message, generation, now
            )
        body = {
            **update,
            "phase": phase.value,
            "message": message,
            "observedGeneration": generation,
            "conditions": conditions,
        }
        if phase.finished:
            body["completionTime"] = timestamp(now)
        await self.rt.kube.patch_status("ProjectionReplay", meta["namespace"], meta["name"], body)
        if status.get("phase", Phase.PENDING) != phase.value or not status.get("phase"):
            text = f"{phase.value}: {message}"
            self.log.info("replay %s/%s %s", meta["namespace"], meta["name"], text)
            if phase is Phase.FAILED:
                post_event(replay, reason, text, warning=True)
            else:
                post_event(replay, phase.value, text)
        self._export({**replay, "status": {**status, **body}}, phase)

    def _export(self, replay: dict[str, Any], phase: Phase) -> None:
        meta = replay["metadata"]
        labels = (meta["namespace"], replay["spec"].get("projection", ""), meta["name"])
        for each in Phase:
            metrics.REPLAY_PHASE.labels(*labels, each.value).set(1 if each is phase else 0)
        metrics.REPLAY_FAILED.labels(*labels).set(1 if phase is Phase.FAILED else 0)

    async def _finish(
        self,
        replay: dict[str, Any],
        projection: dict[str, Any] | None,
        phase: Phase,
        reason: str,
        message: str,
        update: dict[str, Any] | None = None,
    ) -> None:
        if projection is not None:
            await self._restore(replay, projection, failed=phase is not Phase.SUCCEEDED)
        await self._record(replay, update or {}, phase, reason, message)
        meta = replay["metadata"]
        await self.rt.kube.remove_finalizer("ProjectionReplay", meta["namespace"], meta["name"])

    async def _restore(
        self, replay: dict[str, Any], projection: dict[str, Any], *, failed: bool
    ) -> None:
        """Give the projection back: its replicas after a failed pause or reset, the shadow
        removed, the old or unfinished version dropped, autoscaling resumed."""
        kube, meta = self.rt.kube, replay["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        status = replay.get("status") or {}
        phase = Phase(status.get("phase", Phase.PENDING))
        names = _names(replay, projection)
        blue_green = replay["spec"].get("strategy") == Strategy.BLUE_GREEN
        before = status.get("replicasBefore")
        if failed and not blue_green and phase in (Phase.PAUSING, Phase.RESETTING):
            await kube.delete("Job", namespace, names["reset"])
            if before is not None:
                await kube.scale(namespace, projection["spec"]["deployment"], int(before))
        if blue_green and phase is not Phase.PENDING:
            await kube.delete("Deployment", namespace, names["shadow"])
            read_model = status.get("readModel") or {}
            drop = read_model.get("schema") if failed else read_model.get("previousSchema")
            live = await kube.get("Deployment", namespace, projection["spec"]["deployment"])
            if drop and drop != PUBLIC_SCHEMA and live is not None:
                args = ["drop-read-model", "--schema", drop]
                await kube.create(projection_job(replay, live, names["drop"], args))
        await self._release(projection, name)

    async def cancel(self, replay: dict[str, Any]) -> None:
        """A replay deleted before it finished: leave the projection as it was, autoscaled."""
        phase = Phase((replay.get("status") or {}).get("phase", Phase.PENDING))
        if phase.finished:
            return
        meta = replay["metadata"]
        projection = await self.rt.kube.get(
            "Projection", meta["namespace"], replay["spec"].get("projection", "")
        )
        if projection is None:
            return
        await self._restore(replay, projection, failed=True)
        message = f"replay {meta['name']} deleted in phase {phase.value}: projection released"
        self.log.info(message)
        post_event(projection, "ReplayCancelled", message)


def _target(spec: ReplaySpec) -> ResetTarget:
    return ResetTarget(earliest=spec.earliest, timestamp=spec.timestamp, offsets=spec.offsets)


def _live_read_model(projection: dict[str, Any]) -> dict[str, str]:
    live = (projection.get("status") or {}).get("readModel") or {}
    return {"previousSchema": str(live.get("schema") or PUBLIC_SCHEMA)}
