"""Log lines: a request id on each, JSON with LOG_FORMAT=json, and access lines without query strings
(the seed's /query carries chat text in its URL; no log may hold it)."""

import datetime
import json
import logging
import re

from gateway.request_id import current_request_id

_QUERY = re.compile(r"\?[^\s\"]*")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class StripQueryFilter(logging.Filter):
    """For servers' access loggers (uvicorn.access): drop the query string from the request line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_QUERY.sub("", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _QUERY.sub("", str(record.msg)) if not record.args else record.msg
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def daphne_access_through_logging() -> None:
    """daphne writes its access log straight to stdout, query string and all: send it through logging."""
    from daphne import access

    logger = logging.getLogger("daphne.access")

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        logger.info('%s "%s" %s %s', host, _QUERY.sub("", request), status or "-", length or "-")

    access.AccessLogGenerator.write_entry = write_entry
