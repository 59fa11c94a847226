"""The request log: one row per model call, written off the request path; `request_log_note` is its door."""

from requestlog.writer import request_log_note

__all__ = ["request_log_note"]
