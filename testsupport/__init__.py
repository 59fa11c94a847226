"""What the tests and bench/ share: a loopback OpenAI-compatible LLM and OpenAI's answer shapes."""
