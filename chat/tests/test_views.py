import pytest

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(user):
    conversation = Conversation.objects.create(owner=user, title="Old name")
    Message.objects.create(conversation=conversation, role="user", content="Hi <b>there</b>")
    Message.objects.create(conversation=conversation, role="assistant", content="**Hello** <script>x()</script>")
    return conversation


def test_chat_without_a_key_points_to_the_keys_page(alice_client):
    page = alice_client.get("/chat/").content.decode()
    assert "You need an API key" in page and 'href="/keys/"' in page


def test_chat_defaults_to_the_most_recent_key(alice_client, user, key_factory):
    key_factory(user, "10RequestPerDay")
    newest, _ = key_factory(user, "20RequestPerDay")
    page = alice_client.get("/chat/").content.decode()
    first_option = page[page.index("<option") :]
    assert f'value="{newest.pk}"' in first_option[: first_option.index("</option>")]


def test_a_conversation_renders_safely(alice_client, user, key_factory, conversation):
    key_factory(user)
    page = alice_client.get(f"/chat/?c={conversation.pk}").content.decode()
    assert "<strong>Hello</strong>" in page
    assert "<script>x()" not in page and "&lt;script&gt;" in page
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in page


def test_rename_and_delete(alice_client, conversation):
    alice_client.post(f"/chat/{conversation.pk}/rename", {"title": "  New   name "})
    conversation.refresh_from_db()
    assert conversation.title == "New name"
    response = alice_client.post(f"/chat/{conversation.pk}/rename", {"title": "   "}, follow=True)
    assert "needs a name" in response.content.decode()
    alice_client.post(f"/chat/{conversation.pk}/delete")
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_other_users_conversations_are_404(client, other_user, conversation):
    client.force_login(other_user)
    assert client.get(f"/chat/?c={conversation.pk}").status_code == 404
    assert client.post(f"/chat/{conversation.pk}/rename", {"title": "mine"}).status_code == 404
    assert client.post(f"/chat/{conversation.pk}/delete").status_code == 404
    assert Conversation.objects.get(pk=conversation.pk).title == "Old name"


def test_a_bad_conversation_id_is_not_an_error(alice_client):
    assert alice_client.get("/chat/?c=abc").status_code == 302


def test_a_stopped_answer_stays_marked_as_stopped_after_a_reload(alice_client, user, key_factory, conversation):
    key_factory(user)
    Message.objects.create(conversation=conversation, role="assistant", content="Half an ans", stopped=True)
    page = alice_client.get(f"/chat/?c={conversation.pk}").content.decode()
    assert page.count('class="muted stopped-mark"') == 1  # the stopped answer, not the complete one before it
    assert (
        '<div class="bubble assistant stopped"><p>Half an ans</p>\n<p class="muted stopped-mark">Stopped.</p>' in page
    )
    thai = alice_client.get(f"/chat/?c={conversation.pk}", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert 'class="muted stopped-mark">หยุดแล้ว</p>' in thai
