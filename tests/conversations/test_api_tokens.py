"""API tokens are secrets: shown once, stored hashed, never listed, revocable; clients still send `Token <key>`."""

import datetime
import hashlib
import importlib
import io
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from conversations import services
from conversations.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SUBSCRIBERS = "/api/v1/subscribers/"
CHANGELIST = reverse("admin:conversations_apitoken_changelist")
ADD = reverse("admin:conversations_apitoken_add")


@pytest.fixture
def reader():
    user = UserFactory(username="reader")
    user.user_permissions.set(Permission.objects.filter(codename="view_subscriber"))
    return user


def get_with(key: str, path: str = SUBSCRIBERS):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(path)


def test_a_token_acts_as_its_user(reader):
    token, key = services.api_token_create(user=reader, name="Shopify sync")
    assert key.startswith("prl_") and len(key) == 52
    assert token.prefix == key[:12]
    assert get_with(key).status_code == 200


@pytest.mark.parametrize("header", ["Token prl_wrong", "Token", "Token a b", "Bearer x"])
def test_a_wrong_token_is_refused(reader, header):
    services.api_token_create(user=reader, name="Shopify sync")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(SUBSCRIBERS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_is_refused_and_others_keep_working(reader):
    old, old_key = services.api_token_create(user=reader, name="old")
    _, new_key = services.api_token_create(user=reader, name="new")
    assert services.api_token_revoke(token=old) is True
    assert services.api_token_revoke(token=old) is False
    assert get_with(old_key).status_code == 401
    assert get_with(new_key).status_code == 200


def test_an_inactive_users_token_is_refused(reader):
    _, key = services.api_token_create(user=reader, name="x")
    reader.is_active = False
    reader.save()
    assert get_with(key).status_code == 401


def test_the_database_holds_no_key(reader):
    token, key = services.api_token_create(user=reader, name="x")
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in str(row)
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["prefix"] == key[:12]


def test_last_used_is_written_at_most_once_a_minute(reader, django_assert_num_queries):
    token, key = services.api_token_create(user=reader, name="x")
    assert token.last_used_at is None
    get_with(key)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    get_with(key)
    token.refresh_from_db()
    assert token.last_used_at == first
    with django_assert_num_queries(0):
        services.api_token_mark_used(token=token)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    get_with(key)
    token.refresh_from_db()
    assert token.last_used_at > first


# --- Who may create a token for whom -------------------------------------------------------------------


def test_staff_may_not_make_a_token_more_powerful_than_themselves(reader):
    clerk = UserFactory(username="clerk", is_staff=True)
    with pytest.raises(ValidationError, match="permissions you do not have.*view_subscriber"):
        services.api_token_create(user=reader, name="x", created_by=clerk)
    boss = UserFactory(username="boss", is_superuser=True)
    with pytest.raises(ValidationError, match="only a superuser"):
        services.api_token_create(user=boss, name="x", created_by=clerk)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_subscriber"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # permissions are cached on the instance
    token, _ = services.api_token_create(user=reader, name="x", created_by=clerk)
    assert token.created_by == clerk


# --- The admin -------------------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="owner", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def viewer_client(client):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    return client


@pytest.mark.parametrize("who", ["superuser_client", "viewer_client"])
def test_the_admin_never_shows_a_key_or_its_hash(request, reader, who):
    client = request.getfixturevalue(who)
    token, key = services.api_token_create(user=reader, name="Shopify sync")
    get_with(key)  # a used token, with its last use shown
    pages = [
        client.get(CHANGELIST),
        client.get(CHANGELIST, {"q": "Shopify"}),
        client.get(reverse("admin:conversations_apitoken_change", args=[token.pk])),
        client.get(reverse("admin:conversations_apitoken_history", args=[token.pk])),
        client.get(reverse("admin:index")),
    ]
    for response in pages:
        assert response.status_code == 200
        body = response.content.decode()
        assert key not in body
        assert key[12:20] not in body  # not even a piece past the prefix
        assert token.key_hash not in body
    assert "Shopify sync" in pages[0].content.decode() and f"{token.prefix}…" in pages[0].content.decode()


def test_a_view_only_user_can_neither_create_nor_revoke(viewer_client, reader):
    token, key = services.api_token_create(user=reader, name="x")
    assert viewer_client.get(ADD).status_code == 403
    response = viewer_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [token.pk]})
    assert response.status_code in (200, 302)
    assert get_with(key).status_code == 200


def test_creating_a_token_in_the_admin_shows_the_key_once(superuser_client, reader):
    response = superuser_client.post(ADD, {"user": reader.pk, "name": "help desk"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(name="help desk")
    key = response.context["key"]
    assert key in response.content.decode() and token.key_hash == ApiToken.hash_key(key)
    assert token.user == reader and token.created_by.username == "owner"
    assert get_with(key).status_code == 200
    # Nowhere else: not in the messages, the history, nor on any later page.
    entry = LogEntry.objects.get(object_id=str(token.pk))
    assert key not in entry.object_repr + entry.change_message
    for url in [CHANGELIST, reverse("admin:conversations_apitoken_change", args=[token.pk]), reverse("admin:index")]:
        assert key not in superuser_client.get(url).content.decode()


def test_the_admin_refuses_a_token_beyond_the_creators_permissions(client, reader):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"]))
    client.force_login(clerk)
    response = client.post(ADD, {"user": reader.pk, "name": "x"})
    assert "permissions you do not have" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_in_the_admin_stops_the_token(superuser_client, reader):
    token, key = services.api_token_create(user=reader, name="x")
    response = superuser_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [token.pk]})
    assert response.status_code == 302
    assert get_with(key).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert superuser_client.get(CHANGELIST, {"state": "revoked"}).context["cl"].result_count == 1


def test_a_pasted_key_finds_its_token_in_the_admin(superuser_client, reader):
    token, key = services.api_token_create(user=reader, name="leaked")
    services.api_token_create(user=reader, name="other")
    assert list(superuser_client.get(CHANGELIST, {"q": key}).context["cl"].result_list) == [token]
    # A long name is searched as a name, not taken for a key.
    named, _ = services.api_token_create(user=reader, name="Nightly warehouse export")
    found = superuser_client.get(CHANGELIST, {"q": "warehouse export"}).context["cl"].result_list
    assert list(found) == [named]


# --- The command ------------------------------------------------------------------------------------------


def test_the_command_prints_a_working_key_alone(reader):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "reader", "--name", "Shopify sync", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert get_with(key).status_code == 200
    assert ApiToken.objects.get().name == "Shopify sync"
    assert key not in err.getvalue() and "not shown again" in err.getvalue()


def test_the_command_names_an_unknown_user():
    with pytest.raises(Exception, match="no user is called 'nobody'"):
        call_command("create_api_token", "nobody", stdout=io.StringIO(), stderr=io.StringIO())


# --- DRF's tokens, from before ----------------------------------------------------------------------------


@pytest.fixture
def drf_token_table():
    """authtoken_token as DRF made it, in a database that predates API tokens."""
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE authtoken_token ("key" varchar(40) NOT NULL PRIMARY KEY, '
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL UNIQUE)"
            if connection.vendor == "postgresql"
            else 'CREATE TABLE authtoken_token ("key" varchar(40) NOT NULL PRIMARY KEY, '
            "created datetime NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")


def test_a_drf_key_keeps_working_after_the_migration(reader, drf_token_table):
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's own example key
    created = timezone.now() - datetime.timedelta(days=30)
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO authtoken_token ("key", created, user_id) VALUES (%s, %s, %s)', [key, created, reader.pk]
        )
    drf_type = ContentType.objects.create(app_label="authtoken", model="token")
    LogEntry.objects.create(
        user=UserFactory(username="owner"), content_type=drf_type, object_id=key, object_repr=key, action_flag=1
    )
    migration = importlib.import_module("conversations.migrations.0013_api_tokens_from_drf")
    migration.copy_drf_tokens(apps, SimpleNamespace(connection=connection))  # all it needs of a schema editor

    token = ApiToken.objects.get()
    assert (token.user, token.prefix, token.name) == (reader, key[:8], "migrated DRF token")
    assert abs(token.created_at - created) < datetime.timedelta(seconds=1)
    assert get_with(key).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    assert not LogEntry.objects.filter(object_repr__contains=key).exists()
    assert not LogEntry.objects.filter(object_id=key).exists()
