"""A real Kubernetes API server for server-side dry-runs: the kind cluster when it is up,
else etcd + kube-apiserver from the pinned toolchain on loopback (no nodes, no controllers:
enough to validate manifests, CRD schemas and CEL rules)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from readside_testkit.kind.tools import BIN, CONTEXT, cluster_up, run, tool, wait_for
from readside_testkit.ports import free_port

KUBECONFIG_TEMPLATE = """apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
users:
- name: admin
  user: {{token: {token}}}
contexts:
- name: local
  context: {{cluster: local, user: admin}}
current-context: local
"""


# A user with no rights but those RBAC gives it (tests of what a missing permission does).
RESTRICTED_USER = "restricted"
RESTRICTED_TOKEN = "readside-e2e-restricted-token"


def restricted_kubeconfig(kubeconfig: Path) -> Path:
    """Beside the admin kubeconfig of `local_api_server`: the RESTRICTED_USER's."""
    return kubeconfig.with_name("kubeconfig-restricted")


@contextmanager
def local_api_server() -> Iterator[Path]:
    """Start etcd and kube-apiserver; yield an admin kubeconfig; stop them."""
    with tempfile.TemporaryDirectory(prefix="readside-apiserver-") as folder:
        root = Path(folder)
        token = _keys_and_tokens(root)
        client, secure = free_port(), free_port()
        processes = [_start_etcd(root, client), _start_apiserver(root, client, secure)]
        kubeconfig = root / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG_TEMPLATE.format(port=secure, token=token))
        restricted = restricted_kubeconfig(kubeconfig)
        restricted.write_text(KUBECONFIG_TEMPLATE.format(port=secure, token=RESTRICTED_TOKEN))
        try:
            kubectl = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig)]
            wait_for(
                "the local kube-apiserver's /readyz",
                lambda: (
                    run([*kubectl, "get", "--raw", "/readyz"], check=False, timeout=15).returncode
                    == 0
                ),
                timeout=120,
            )
            yield kubeconfig
        finally:
            for proc in reversed(processes):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _keys_and_tokens(root: Path) -> str:
    """The service-account signing keys and the token file in `root`; the admin's token."""
    run(["openssl", "genrsa", "-out", str(root / "sa.key"), "2048"])
    run(["openssl", "rsa", "-in", str(root / "sa.key"), "-pubout", "-out", str(root / "sa.pub")])
    token = "readside-e2e-token"
    (root / "tokens.csv").write_text(
        f"{token},admin,admin,system:masters\n{RESTRICTED_TOKEN},{RESTRICTED_USER},restricted\n"
    )
    return token


def _start_etcd(root: Path, client: int) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{client}"
    args = ["--data-dir", str(root / "etcd"), "--listen-client-urls", url]
    args += ["--advertise-client-urls", url]
    args += ["--listen-peer-urls", f"http://127.0.0.1:{free_port()}"]
    return subprocess.Popen(
        [str(BIN / "etcd"), *args],
        stdout=subprocess.DEVNULL,
        stderr=(root / "etcd.log").open("wb"),
    )


def _start_apiserver(root: Path, client: int, secure: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{client}",
            f"--secure-port={secure}",
            "--bind-address=127.0.0.1",
            f"--cert-dir={root / 'certs'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={root / 'sa.pub'}",
            f"--service-account-signing-key-file={root / 'sa.key'}",
            f"--token-auth-file={root / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/16",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "apiserver.log").open("wb"),
    )


def can_start_local() -> str | None:
    """None when a local API server can start, else why not."""
    for name in ("etcd", "kube-apiserver", "kubectl"):
        if not (BIN / name).exists():
            return f"{name} is not in .local/toolchain/bin (make toolchain)"
    if tool("openssl") is None:
        return "openssl is not installed"
    return None


def kind_args() -> list[str]:
    return ["--context", CONTEXT]


__all__ = ["can_start_local", "cluster_up", "kind_args", "local_api_server"]
