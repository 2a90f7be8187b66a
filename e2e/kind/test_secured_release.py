"""Secured connections end to end in the kind cluster (namespace readside-sec-e2e).

deploy/dev's dependencies, secured (readside_testkit.kind.secured_dev): Kafka with only a
SASL_SSL listener for clients (SCRAM-SHA-512, the user written at storage format),
PostgreSQL with ssl = on refusing every TCP client without TLS, Redis on TLS only with an ACL
user, certificates from a CA the test makes with openssl. The chart, with the operator
enabled, points every component at them through its security values, which name Secrets only
(readside_testkit.kind.secured_parts.SECURED_VALUES). The sample is published over SASL_SSL
and served exactly; an InPlace replay (its reset Job copies the projection's mounts) restores
a corrupted read model; no password of the run shows in a log, an Event, a ConfigMap, a
custom resource or the release's values.

Needs the three app images in the cluster: `make images-app kind-load-app` (make e2e does it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from readside_testkit.kind.operated import SMALL_REQUESTS
from readside_testkit.kind.port_forward import PortForward, served_exactly
from readside_testkit.kind.release import EXPECTED, SAMPLE
from readside_testkit.kind.secured_dev import SecuredRelease
from readside_testkit.kind.secured_parts import PG_ROLE
from readside_testkit.kind.tools import wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

NAMESPACE = os.environ.get("READSIDE_SECURED_E2E_NAMESPACE", "readside-sec-e2e")


@pytest.fixture(scope="module")
def release(
    cluster: str, helm: str, app_images_in_kind: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredRelease]:
    rel = SecuredRelease(cluster, helm, NAMESPACE, tmp_path_factory.mktemp("certificates"))
    started = time.monotonic()
    rel.fresh_install(
        *SMALL_REQUESTS,
    )
    print(f"secured dependencies and release installed in {time.monotonic() - started:.0f}s")
    yield rel
    rel.leave()


def test_the_dev_servers_refuse_clients_without_tls_or_credentials(
    release: SecuredRelease,
) -> None:
    plain = f"host=127.0.0.1 user={PG_ROLE} dbname=rsdev sslmode=disable"
    refused = release.kubectl(
        "exec", "deploy/postgres", "--", "psql", plain, "-c", "SELECT 1", check=False
    )
    assert refused.returncode != 0
    assert "no encryption" in refused.stderr, refused.stderr
    ca = "/etc/redis-tls/ca.crt"
    anonymous = release.kubectl(
        "exec", "deploy/redis", "--", "redis-cli", "--tls", "--cacert", ca, "ping", check=False
    )
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr


def test_the_sample_published_over_sasl_ssl_is_served_exactly(
    release: SecuredRelease, api: PortForward
) -> None:
    started = time.monotonic()
    release.publish_file(SAMPLE)
    wait_for(
        "every sample order served as sample.expected.json says",
        lambda: served_exactly(api, EXPECTED),
        timeout=180,
        every=2,
    )
    print(f"sample published and served in {time.monotonic() - started:.0f}s")
    # The query service reaches Redis (TLS only, the default user off: so as the ACL user).
    status, body = api.get("/readyz")
    assert (status, body["postgres"], body["redis"]) == (200, "up", "up"), body
    clients = release.kubectl(
        "exec", "deploy/postgres", "--", "psql", "-U", "rsdev", "-d", "rsdev", "-tAc",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)"
        f" WHERE usename = '{PG_ROLE}' AND ssl",
    ).stdout  # fmt: skip
    assert int(clients) > 0, "no TLS connection of the release's role"
    # Now, while the first projection pod lives: the replay replaces it, and the log of a
    # deleted pod cannot be read afterwards.
    assert release.leaks(release.what_shows()) == []


def test_an_in_place_replay_over_the_secured_connections_restores_the_sample(
    release: SecuredRelease, api: PortForward
) -> None:
    wait_for("the sample served", lambda: served_exactly(api, EXPECTED), timeout=180, every=2)
    release.psql(
        "UPDATE order_views SET status = 'corrupted' WHERE order_number LIKE '%1%'; "
        "DELETE FROM order_views WHERE order_number LIKE '%2%'"
    )
    assert release.psql("SELECT count(*) FROM order_views WHERE status = 'corrupted'") != "0"
    started = time.monotonic()
    release.replay("secured-rebuild", strategy="InPlace", **{"from": {"earliest": True}})
    status = release.wait_phase("secured-rebuild", "Succeeded", "Failed", timeout=600)
    assert status["phase"] == "Succeeded", status
    print(f"InPlace replay over SASL_SSL and TLS: {time.monotonic() - started:.1f}s")
    wait_for("the sample served again", lambda: served_exactly(api, EXPECTED), timeout=120)
    assert release.psql("SELECT count(*) FROM order_views WHERE status = 'corrupted'") == "0"
    assert release.psql("SELECT count(*) FROM order_views") == str(len(EXPECTED))


def test_no_password_shows_in_logs_events_configmaps_or_values(release: SecuredRelease) -> None:
    shown = release.what_shows()
    # What was searched: each source, and the pods of the run, the replay's reset Job included.
    assert {"events", "configmaps", "resources", "values"} <= set(shown)
    for pod in ("pod/readside-projection-", "pod/readside-operator-", "pod/secured-rebuild-reset-"):
        assert any(where.startswith(pod) for where in shown), sorted(shown)
    assert release.leaks(shown) == []
