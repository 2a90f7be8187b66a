"""Readside core: the contracts shared by the projection and query services and the operator.

Imported, never run. Nothing here connects to anything at import time.
"""
