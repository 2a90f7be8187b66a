"""Readside projection service: order events from Kafka, folded into PostgreSQL read models."""
