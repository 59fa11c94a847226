"""What tests and bench/ share: a loopback OpenAI-compatible LLM, OpenAI's shapes, Redis and PostgreSQL servers."""
