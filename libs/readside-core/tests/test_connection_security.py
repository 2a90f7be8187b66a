"""Reading and checking the TLS and SASL settings, and what the builders give each client."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from readside_core.connection_errors import explain_postgres_error, explain_redis_error
from readside_core.connection_security import (
    KafkaSecurity,
    PostgresSecurity,
    RedisSecurity,
    Secret,
    redis_kwargs,
)
from readside_core.settings import SettingsError

pytestmark = pytest.mark.unit
PASSWORD = "s3cret-unit-pw-7f3a"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate, a client certificate and key (openssl), and a password file."""
    d = tmp_path_factory.mktemp("pki")
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    for name in ("ca", "client"):
        subprocess.run(
            [*openssl, "-keyout", d / f"{name}.key", "-out", d / f"{name}.crt", "-subj", "/CN=t"],
            check=True,
            capture_output=True,
        )
    (d / "password").write_text(PASSWORD + "\n")
    (d / "garbage.pem").write_text("not a certificate\n")
    return d


def sasl_ssl(pki: Path, **extra: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "readside",
        "KAFKA_SASL_PASSWORD_FILE": str(pki / "password"),
        "KAFKA_SSL_CAFILE": str(pki / "ca.crt"),
        **extra,
    }


def test_nothing_set_means_plaintext_without_credentials() -> None:
    kafka = KafkaSecurity.from_env({})
    assert kafka.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert PostgresSecurity.from_env({}).connect_kwargs() == {}
    assert RedisSecurity.from_env({}, "redis://h:6379/0").client_kwargs() == {}


def test_sasl_ssl_gives_aiokafka_a_verifying_context_and_the_password_from_the_file(
    pki: Path,
) -> None:
    kwargs = KafkaSecurity.from_env(
        sasl_ssl(pki, KAFKA_SASL_MECHANISM="scram-sha-512")
    ).client_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "readside",
        "sasl_plain_password": PASSWORD,  # the file's trailing newline dropped
    }
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_hostname_check_can_be_turned_off_and_a_client_certificate_is_loaded(pki: Path) -> None:
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(pki / "ca.crt"),
        "KAFKA_SSL_CERTFILE": str(pki / "client.crt"),
        "KAFKA_SSL_KEYFILE": str(pki / "client.key"),
        "KAFKA_SSL_CHECK_HOSTNAME": "false",
    }
    kwargs = KafkaSecurity.from_env(env).client_kwargs()
    assert kwargs["ssl_context"].check_hostname is False
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "sasl_mechanism" not in kwargs


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS'"),
        ({"KAFKA_SASL_MECHANISM": ""}, "needs KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM='GSSAPI'"),
        ({"KAFKA_SASL_USERNAME": ""}, "needs KAFKA_SASL_USERNAME"),
        ({"KAFKA_SASL_PASSWORD": "x"}, "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE"),
        ({"KAFKA_SASL_PASSWORD_FILE": "/nonexistent/pw"}, "KAFKA_SASL_PASSWORD_FILE=/nonexist"),
        ({"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "does not use TLS"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL"}, "does not use SASL"),
        ({"KAFKA_SSL_KEYFILE": "CLIENT_KEY"}, "KAFKA_SSL_KEYFILE is set but KAFKA_SSL_CERTFILE"),
        ({"KAFKA_SSL_CHECK_HOSTNAME": "maybe"}, "KAFKA_SSL_CHECK_HOSTNAME='maybe'"),
        ({"KAFKA_SSL_CAFILE": "GARBAGE"}, "KAFKA_SSL_CAFILE="),
    ],
)
def test_bad_kafka_combinations_are_refused_naming_the_variable(
    pki: Path, change: dict[str, str], named: str
) -> None:
    files = {"CLIENT_KEY": str(pki / "client.key"), "GARBAGE": str(pki / "garbage.pem")}
    env = sasl_ssl(pki, **{k: files.get(v, v) for k, v in change.items()})
    with pytest.raises(SettingsError, match=named.replace("(", r"\(").replace("*", r"\*")):
        KafkaSecurity.from_env(env)


def test_a_password_never_shows_in_settings_reprs_or_errors(pki: Path) -> None:
    kafka = KafkaSecurity.from_env(sasl_ssl(pki))
    assert PASSWORD not in repr(kafka)
    assert PASSWORD not in str(kafka.sasl_password)
    assert Secret(PASSWORD) == kafka.sasl_password
    env = sasl_ssl(pki, KAFKA_SASL_MECHANISM="NOPE")
    with pytest.raises(SettingsError) as refused:
        KafkaSecurity.from_env(env)
    assert PASSWORD not in str(refused.value)


def test_postgres_verify_full_checks_chain_and_host_and_passes_the_password(pki: Path) -> None:
    env = {
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(pki / "ca.crt"),
        "PGPASSWORD_FILE": str(pki / "password"),
    }
    kwargs = PostgresSecurity.from_env(env, "postgresql://u@h/db").connect_kwargs()
    assert kwargs["password"] == PASSWORD
    assert kwargs["ssl"].check_hostname is True
    assert kwargs["ssl"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("mode", "ca", "verifies", "checks_host"),
    [
        ("verify-ca", True, True, False),
        ("require", False, False, False),
        ("require", True, True, False),
    ],
)
def test_postgres_modes_follow_libpq(
    pki: Path, mode: str, ca: bool, verifies: bool, checks_host: bool
) -> None:
    env = {"PGSSLMODE": mode, **({"PGSSLROOTCERT": str(pki / "ca.crt")} if ca else {})}
    context = PostgresSecurity.from_env(env).connect_kwargs()["ssl"]
    assert (context.verify_mode == ssl.CERT_REQUIRED) is verifies
    assert context.check_hostname is checks_host


def test_a_password_in_the_url_wins_over_the_password_file_as_in_libpq(pki: Path) -> None:
    env = {"PGPASSWORD_FILE": str(pki / "password"), "REDIS_PASSWORD_FILE": str(pki / "password")}
    assert PostgresSecurity.from_env(env, "postgresql://u:pw@h/db").connect_kwargs() == {}
    assert RedisSecurity.from_env(env, "redis://:pw@h:6379/0").client_kwargs() == {}
    assert PostgresSecurity.from_env(env, "postgresql://u@h/db").connect_kwargs() == {
        "password": PASSWORD
    }


def test_postgres_prefer_and_disable_are_left_to_asyncpg() -> None:
    assert PostgresSecurity.from_env({"PGSSLMODE": "disable"}).connect_kwargs() == {
        "ssl": "disable"
    }


@pytest.mark.parametrize(
    ("env", "url", "named"),
    [
        ({"PGSSLMODE": "strict"}, None, "PGSSLMODE='strict'"),
        ({"PGSSLROOTCERT": "CA"}, None, "PGSSLMODE is unset"),
    ],
)
def test_bad_postgres_settings_are_refused(
    pki: Path, env: dict[str, str], url: str | None, named: str
) -> None:
    env = {k: str(pki / "ca.crt") if v == "CA" else v for k, v in env.items()}
    with pytest.raises(SettingsError, match=named):
        PostgresSecurity.from_env(env, url)


def test_redis_tls_and_acl_user(pki: Path) -> None:
    env = {
        "REDIS_USERNAME": "readside",
        "REDIS_PASSWORD_FILE": str(pki / "password"),
        "REDIS_SSL_CAFILE": str(pki / "ca.crt"),
    }
    kwargs = RedisSecurity.from_env(env, "rediss://h:6380/0").client_kwargs()
    assert kwargs == {
        "username": "readside",
        "password": PASSWORD,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(pki / "ca.crt"),
    }


def test_redis_tls_files_with_a_plain_url_are_refused(pki: Path) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL is not rediss://"):
        RedisSecurity.from_env({"REDIS_SSL_CAFILE": str(pki / "ca.crt")}, "redis://h:6379/0")


def test_redis_kwargs_reads_the_environment_when_not_given(
    pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(pki / "password"))
    assert redis_kwargs("redis://h:6379/0") == {"password": PASSWORD}


def test_connection_errors_name_the_setting_to_change() -> None:
    untrusted = ssl.SSLCertVerificationError(
        "certificate verify failed: unable to get local issuer"
    )
    assert "set PGSSLROOTCERT" in explain_postgres_error(untrusted)
    assert "set REDIS_SSL_CAFILE" in explain_redis_error(untrusted)
    refused = OSError('no pg_hba.conf entry for host "127.0.0.1", user "u", no encryption')
    assert "PGSSLMODE=verify-full" in explain_postgres_error(refused)
    wrong = Exception("WRONGPASS invalid username-password pair or user is disabled.")
    assert "REDIS_PASSWORD_FILE" in explain_redis_error(wrong)


@pytest.mark.parametrize(
    ("explain", "message", "advice"),
    [
        (explain_postgres_error, 'password authentication failed for user "u"', "PGPASSWORD_FILE"),
        (explain_postgres_error, "the server does not support SSL", "check PGSSLMODE"),
        (explain_postgres_error, "rejected SSL upgrade", "check PGSSLMODE"),
        (explain_postgres_error, 'no pg_hba.conf entry for host "h", user "u"', None),
        (explain_redis_error, "NOAUTH Authentication required.", "set REDIS_PASSWORD_FILE"),
        (explain_redis_error, "Connection closed by server.", "rediss://"),
        (explain_redis_error, "Connection reset by peer", "rediss://"),
        (explain_redis_error, "Error 111 connecting to h:6379. Connection refused.", None),
    ],
)
def test_each_known_error_gets_its_advice_and_others_stay_as_they_are(
    explain: Callable[[BaseException], str], message: str, advice: str | None
) -> None:
    said = explain(Exception(f"{message}\nDETAIL: more"))
    assert said.startswith(message)  # the first line only, the server's words first
    if advice is None:
        assert said == message
    else:
        assert advice in said[len(message) :]
