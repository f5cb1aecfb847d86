"""Offline imitation of Safaricom's Daraja (M-Pesa) API for tests, demos and staff training.

Start it with `SandboxServer(port=0).start()` or `python -m daraja_sandbox --port 8765`.
"""
from .server import SandboxServer

__all__ = ["SandboxServer"]
