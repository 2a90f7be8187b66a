"""What tests and benchmarks share: free ports, waits with a deadline, the local stack
(hack/stack), the local service processes, and read models written as the projection would.

Imported by tests and benchmarks only; product code never imports it."""
