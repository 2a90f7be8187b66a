# A control-plane component (kube-apiserver, kube-controller-manager, kube-scheduler,
# etcd) for the node's containerd: the locally built binary on the Debian base.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG BINARY
COPY ${BINARY} /usr/local/bin/${BINARY}
