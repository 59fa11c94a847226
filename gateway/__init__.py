"""The OpenAI-compatible gateway. Its door for a model call is `gateway.calls`; chat and /query use only that."""
