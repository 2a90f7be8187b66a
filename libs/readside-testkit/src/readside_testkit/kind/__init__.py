"""The kind cluster and a kube-apiserver for the e2e suites and benchmarks: pinned tools, a
release of the chart, the query API through a port-forward, the operator's replays."""
