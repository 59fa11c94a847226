"""Usage over days: the pages, charts, exports, the usage API and the mails at 80% and 100%."""
