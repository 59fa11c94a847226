"""English: tables keep ISO dates, as before there was a Thai page."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
