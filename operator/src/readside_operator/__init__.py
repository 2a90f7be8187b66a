"""Readside operator (kopf): Projection autoscaling by consumer lag, and ProjectionReplay."""
