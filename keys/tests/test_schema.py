"""Schemathesis drives every operation of /api/schema/ with generated input: no answer may be a 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
CSRF = "a" * 32


@pytest.fixture
def session_auth(user, plans):
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    client = Client()
    client.force_login(user)
    yield {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF},
        "headers": {"X-CSRFToken": CSRF},
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case, session_auth):
    response = case.call(cookies=session_auth["cookies"], headers=session_auth["headers"])
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.django_db
def test_the_generated_requests_are_logged_in(session_auth):
    case = schema["/api/v1/keys/"]["POST"].Case(
        body={"plan": "10RequestPerDay", "label": "x"}, media_type="application/json"
    )
    response = case.call(cookies=session_auth["cookies"], headers=session_auth["headers"])
    assert response.status_code == 201, response.text  # so the fuzzing above reaches past authentication
