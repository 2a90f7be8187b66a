# The pod sandbox image: hack/toolchain/pause, alone.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
