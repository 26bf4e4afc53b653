"""Helpers the engine tests share: the HTTP transports to run under, the seed article's config."""

from __future__ import annotations

import pytest

TRANSPORTS = [pytest.param("httpx", id="httpx"), pytest.param("aiohttp", id="aiohttp")]


SEED_EN = """{
  "layer_agent_1": {
    "system_prompt": "Think through your response step by step. {helper_response}",
    "model_name": "llama-3.1-8b-instant"
  },
  "layer_agent_2": {
    "system_prompt": "Respond with a thought and then your response to the question. {helper_response}",
    "model_name": "gemma2-9b-it",
    "temperature": 0.7
  },
  "layer_agent_3": {
    "system_prompt": "You are an expert at logic and reasoning. Always take a logical approach to the answer. \
{helper_response}",
    "model_name": "llama-3.1-8b-instant"
  }
}"""
