"""Fixtures for the engine tests."""

from tests.fakes.fixtures import fake_groq

__all__ = ["fake_groq"]
