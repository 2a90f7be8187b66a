"""deploy/dev's PostgreSQL, Redis and Kafka, secured, for the kind suite of secured connections.

`secure_manifests` turns the kustomize build of deploy/dev into (patching its documents, not
copying them):
  Kafka      one SASL_SSL listener (SCRAM-SHA-512) on kafka:9092 for clients; the controller
             and a PLAINTEXT listener for the broker itself bound to 127.0.0.1 only. The SCRAM
             user is written into the cluster metadata at storage format (an init container).
  PostgreSQL ssl = on, and a pg_hba that refuses every TCP connection without TLS; the role
             the release uses is created at initdb with its password read from a Secret.
  Redis      TLS only, the default user off, an ACL user from a Secret.
The certificates come from a CA of the test's own (openssl), for the in-cluster service names;
every credential is a random password in a Secret (`secret_manifests`).
"""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readside_testkit.kind.operated import Operated
from readside_testkit.kind.secured_kafka import secure_kafka
from readside_testkit.kind.secured_parts import (
    CA_SECRET,
    DATABASE_SECRET,
    KAFKA_USER,
    KAFKA_USER_SECRET,
    PG_ROLE,
    POSTGRES_PASSWORD_SECRET,
    REDIS_ACL_SECRET,
    REDIS_USER,
    REDIS_USER_SECRET,
    SECURED_VALUES,
    SERVER_SECRET,
    SERVICES,
    mount,
    secret,
    secret_volume,
)
from readside_testkit.kind.tools import documents, run


@dataclass(frozen=True)
class Credentials:
    """Random passwords of one run: none may ever show in a log, an Event or a ConfigMap."""

    kafka: str = field(default_factory=lambda: secrets.token_hex(16))
    postgres: str = field(default_factory=lambda: secrets.token_hex(16))
    redis: str = field(default_factory=lambda: secrets.token_hex(16))

    def passwords(self) -> list[str]:
        return [self.kafka, self.postgres, self.redis]


def subject_alt_names(namespace: str) -> str:
    """Every name a client in the cluster may use for the three services."""
    names = ["localhost"]
    for service in SERVICES:
        for suffix in ("", f".{namespace}", f".{namespace}.svc", f".{namespace}.svc.cluster.local"):
            names.append(f"{service}{suffix}")
    return ",".join(f"DNS:{name}" for name in names)


def _openssl(*args: str) -> None:
    run(["openssl", *args], timeout=60)  # a failure shows openssl's own words


def make_certificates(out: Path, namespace: str) -> dict[str, str]:
    """A CA and a server certificate (PKCS#8 key) signed by it, valid for the services'
    names: {"ca.crt", "tls.crt", "tls.key", "keystore.pem" (key and certificate)} as text."""
    ca_key, ca_crt = out / "ca.key", out / "ca.crt"
    key, csr, crt, ext = out / "tls.key", out / "tls.csr", out / "tls.crt", out / "ext.cnf"
    _openssl(
        "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(ca_key), "-out", str(ca_crt), "-subj", "/CN=Readside kind test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN=readside-dev.{namespace}",
    )  # fmt: skip
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={subject_alt_names(namespace)}\n"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt),
    )  # fmt: skip
    files = {"ca.crt": ca_crt.read_text(), "tls.crt": crt.read_text(), "tls.key": key.read_text()}
    files["keystore.pem"] = files["tls.key"] + files["tls.crt"]
    return files


def secret_manifests(
    certificates: dict[str, str], credentials: Credentials
) -> list[dict[str, Any]]:
    acl = f"user default off\nuser {REDIS_USER} on >{credentials.redis} ~* &* +@all\n"
    return [
        secret(CA_SECRET, {"ca.crt": certificates["ca.crt"]}),
        secret(SERVER_SECRET, certificates),
        secret(KAFKA_USER_SECRET, {"username": KAFKA_USER, "password": credentials.kafka}),
        secret(DATABASE_SECRET, {"DATABASE_URL": f"postgresql://{PG_ROLE}@postgres:5432/rsdev"}),
        secret(POSTGRES_PASSWORD_SECRET, {"password": credentials.postgres}),
        secret(REDIS_USER_SECRET, {"username": REDIS_USER, "password": credentials.redis}),
        secret(REDIS_ACL_SECRET, {"users.acl": acl}),
    ]


# Sourced by the image's entry point at initdb (as the postgres user, with the server on the
# socket only). The password goes to psql on stdin, never on a command line.
PG_INITDB = f"""\
password=$(cat /etc/postgres-role/password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE {PG_ROLE} LOGIN PASSWORD '$password';
ALTER DATABASE "$POSTGRES_DB" OWNER TO {PG_ROLE};
SQL
unset password
cat >"$PGDATA/pg_hba.conf" <<HBA
local all all trust
hostssl all all all scram-sha-256
hostnossl all all all reject
HBA
"""
# As root, before the entry point: PostgreSQL wants its key owned by itself, mode 0600.
PG_START = (
    "install -o postgres -g postgres -m 0600 /etc/postgres-tls/tls.key /var/run/postgresql/tls.key"
    " && install -o postgres -g postgres -m 0644 /etc/postgres-tls/tls.crt"
    ' /var/run/postgresql/tls.crt && exec docker-entrypoint.sh "$@"'
)


def secure_postgres(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """deploy/dev's PostgreSQL with ssl = on and TLS required of every TCP client, and the
    ConfigMap of its initdb script."""
    secured = copy.deepcopy(deployment)
    pod = secured["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["command"] = ["bash", "-c", PG_START, "secure-postgres"]
    container["args"] = [
        *container["args"],
        *("-c", "ssl=on", "-c", "ssl_cert_file=/var/run/postgresql/tls.crt"),
        *("-c", "ssl_key_file=/var/run/postgresql/tls.key"),
    ]
    container["volumeMounts"] += [
        mount("tls", "/etc/postgres-tls"),
        mount("role", "/etc/postgres-role"),
        mount("initdb", "/docker-entrypoint-initdb.d"),
    ]
    pod["volumes"] += [
        secret_volume("tls", SERVER_SECRET),
        # read by the postgres user, after the entry point dropped root
        secret_volume("role", POSTGRES_PASSWORD_SECRET, 0o444),
        {"name": "initdb", "configMap": {"name": "postgres-initdb"}},
    ]
    initdb = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "postgres-initdb"},
        "data": {"secure.sh": PG_INITDB},
    }
    return [secured, initdb]


def secure_redis(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """deploy/dev's Redis on TLS only (same port), users from the ACL file."""
    secured = copy.deepcopy(deployment)
    pod = secured["spec"]["template"]["spec"]
    container = pod["containers"][0]
    tls = "/etc/redis-tls"
    container["args"] = [
        *container["args"],
        *("--port", "0", "--tls-port", "6379", "--tls-auth-clients", "no"),
        *("--tls-cert-file", f"{tls}/tls.crt", "--tls-key-file", f"{tls}/tls.key"),
        *("--tls-ca-cert-file", f"{tls}/ca.crt", "--aclfile", "/etc/redis-acl/users.acl"),
    ]
    # redis-cli ping would need the password on its command line.
    container["readinessProbe"] = {"tcpSocket": {"port": "redis"}, "periodSeconds": 2}
    container["volumeMounts"] += [mount("tls", tls), mount("acl", "/etc/redis-acl")]
    # read by the redis user, after the entry point dropped root
    pod["volumes"] += [
        secret_volume("tls", SERVER_SECRET, 0o444),
        secret_volume("acl", REDIS_ACL_SECRET, 0o444),
    ]
    return [secured]


SECURE = {"kafka": secure_kafka, "postgres": secure_postgres, "redis": secure_redis}


def secure_manifests(dev: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """deploy/dev's documents with each Deployment replaced by its secured version (plus
    what it needs beside it); the dev PostgreSQL Secret and the Services stay as they are."""
    out: list[dict[str, Any]] = []
    for doc in dev:
        name = doc["metadata"]["name"]
        if doc["kind"] == "Deployment" and name in SECURE:
            out += SECURE[name](doc)
        else:
            out.append(doc)
    return out


class SecuredRelease(Operated):
    """An operated release (operator enabled) beside the secured dev dependencies, pointed at
    them through the chart's security values, which name the Secrets only."""

    def __init__(self, kubectl: str, helm: str, namespace: str, workdir: Path) -> None:
        super().__init__(kubectl, helm, namespace)
        self.workdir = workdir
        self.credentials = Credentials()

    def dependency_manifests(self) -> str:
        certificates = make_certificates(self.workdir, self.namespace)
        dev = documents(super().dependency_manifests())
        docs = [*secret_manifests(certificates, self.credentials), *secure_manifests(dev)]
        # JSON documents: no YAML anchors for the objects the documents share.
        return "\n---\n".join(json.dumps(doc) for doc in docs)

    def install(self, *sets: str) -> None:
        super().install(*SECURED_VALUES, *sets)

    def what_shows(self) -> dict[str, str]:
        """Every pod's logs (all containers, init ones included), the Events, the ConfigMaps,
        the custom resources and the release's values, by where they come from."""
        shown = {
            "events": self.kubectl("get", "events", "-o", "json").stdout,
            "configmaps": self.kubectl("get", "configmaps", "-o", "json").stdout,
            "resources": self.kubectl("get", "projections,projectionreplays", "-o", "json").stdout,
            "values": self.helm("get", "values", "readside", "--all", "-o", "json").stdout,
        }
        for pod in self.kubectl("get", "pods", "-o", "name").stdout.split():
            logs = self.kubectl("logs", pod, "--all-containers", check=False)
            shown[pod] = logs.stdout + logs.stderr
        return shown

    def leaks(self, shown: dict[str, str]) -> list[str]:
        """Where in `shown` (see what_shows) a password of this run appears (none should)."""
        return [
            where
            for where, text in shown.items()
            for password in self.credentials.passwords()
            if password in text
        ]
