"""Thai: the day, the month's Thai abbreviation and the year (24 พ.ย. 2026)."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
