"""Benchmark only: on PYTHONPATH, the projection starts with no registered read model
(readside_core.read_models): orders, customer summaries and offsets only, so that
bench_projection.py measures what the registered models (products) cost in the same run."""

import readside_core.read_models as read_models

read_models.registered = lambda: ()
