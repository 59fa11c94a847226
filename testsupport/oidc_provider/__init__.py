"""A small OpenID Connect provider for the tests: django-oauth-toolkit with OIDC, in a process of its own.

server.py starts it (OidcProvider) and talks to it; testsupport/sso.py holds the pytest fixture and the
log-in helper that drive Tollgate through it. The rest of this package is the provider's Django site.
"""
