# CoreDNS as kubeadm deploys it (args only, so the entry point is the binary).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
