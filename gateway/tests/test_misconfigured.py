"""An upstream whose key cannot be used here is never called without it: another one answers, or 503."""

import pytest
from asgiref.sync import sync_to_async
from django.core.checks import run_checks

from conftest import post_v1
from gateway.models import CatalogModel, Upstream

pytestmark = pytest.mark.django_db(transaction=True)
CHAT = {"model": "guarded", "messages": [{"role": "user", "content": "hi"}]}


def catalogue(upstream_server, second_upstream_server, settings, *, second: bool):
    settings.SECRET_KEY = "the-secret-the-key-was-sealed-under"
    sealed = Upstream(name="sealed-elsewhere", base_url=upstream_server.base_url)
    sealed.set_api_key("provider-secret")
    sealed.save()
    settings.SECRET_KEY = "another-secret-after-a-move"
    unset = Upstream.objects.create(name="env-unset", base_url=upstream_server.base_url)
    unset.api_key_env = "TOLLGATE_UPSTREAM_NOT_SET_ANYWHERE"
    unset.save()
    model = CatalogModel.objects.create(name="guarded")
    targets = [sealed, unset]
    if second:
        targets.append(Upstream.objects.create(name="fine", base_url=second_upstream_server.base_url))
    model.upstreams.set(targets)
    return sealed, unset


async def test_no_call_goes_out_without_its_credentials(
    user, key_factory, upstream_server, second_upstream_server, settings
):
    upstream_server.reset()
    await sync_to_async(catalogue)(upstream_server, second_upstream_server, settings, second=False)
    _, plaintext = await sync_to_async(key_factory)(user)
    response = await post_v1(plaintext, CHAT)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_misconfigured"
    assert upstream_server.requests == [], "neither upstream was called without its key"
    assert response.headers["x-ratelimit-remaining-requests"] == "10", "not charged"


async def test_another_upstream_of_the_model_answers_instead(
    user, key_factory, upstream_server, second_upstream_server, settings
):
    upstream_server.reset()
    second_upstream_server.reset()
    await sync_to_async(catalogue)(upstream_server, second_upstream_server, settings, second=True)
    _, plaintext = await sync_to_async(key_factory)(user)
    for _ in range(4):
        assert (await post_v1(plaintext, CHAT)).status_code == 200
    assert upstream_server.requests == [] and len(second_upstream_server.requests) == 4


def test_a_system_check_names_each_unusable_upstream(upstream_server, second_upstream_server, settings):
    catalogue(upstream_server, second_upstream_server, settings, second=True)
    warnings = {m.msg for m in run_checks() if m.id == "gateway.W003"}
    assert any("'sealed-elsewhere'" in w and "another DJANGO_SECRET_KEY" in w for w in warnings)
    assert any("'env-unset'" in w and "TOLLGATE_UPSTREAM_NOT_SET_ANYWHERE" in w for w in warnings)
    assert not any("'fine'" in w for w in warnings)


def test_the_admin_shows_it_in_red(client, user_factory, upstream_server, second_upstream_server, settings):
    catalogue(upstream_server, second_upstream_server, settings, second=True)  # changes the secret key: log in after
    client.force_login(user_factory("staff@example.com", is_staff=True, is_superuser=True))
    page = client.get("/admin/gateway/upstream/").content.decode()
    assert page.count('class="errornote-inline"') == 2
