"""Fixtures for bot tests that run the real process against the fakes."""

from tests.fakes.fixtures import fake_groq

__all__ = ["fake_groq"]
