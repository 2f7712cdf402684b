"""Test helpers shipped with the product: a fake OpenAI-compatible server with latency and fault knobs."""

from bakeoff.testing.fake_server import FakePlan, FakeServer

__all__ = ["FakePlan", "FakeServer"]
