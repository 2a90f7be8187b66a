"""Smoke tests of the air-gapped kind cluster (see docs/airgap.md)."""
