"""A dashboard socket follows its session: logout, a password change, deactivation,
deletion and expiry end it (4401), losing the right to control trading closes it
(4403), and control commands read the session and permission when they run."""

from dataclasses import replace

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone

from dashboard.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from dashboard.health import stats
from tests.configs import configure
from tests.websocket import events_socket
from trading import events
from trading.models import ActivityEvent

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]

# The bound on how long a revoked socket may live on.
REVOKED_WITHIN = 2


def control_permission() -> Permission:
    return Permission.objects.get(codename="control_trading", content_type__app_label="trading")


@pytest.fixture
def controller(django_user_model):
    user = django_user_model.objects.create_user(username="boss", password="pw-not-used")
    user.user_permissions.add(control_permission())
    return user


@pytest.fixture
def log_in():
    """``await log_in(user)`` -> (its own HTTP client, an open socket of that session)."""
    opened = []

    async def open_session(user):
        client = Client()
        await sync_to_async(client.force_login)(user)
        cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
        socket = events_socket(cookie=cookie.encode())
        connected, _ = await socket.connect()
        assert connected
        for expected in (events.CONNECTION, events.HISTORY_REPLAY):
            assert orjson.loads(await socket.receive_from(timeout=5))["type"] == expected
        opened.append(socket)
        return client, socket

    yield open_session


async def closed_with(socket, within: float = REVOKED_WITHIN) -> int:
    """The close code the socket gets within ``within`` seconds; anything sent before it is skipped."""
    while True:
        output = await socket.receive_output(timeout=within)
        if output["type"] == "websocket.close":
            return output["code"]


async def still_open(socket) -> None:
    """It still receives live events."""
    text = events.envelope(events.SYSTEM_ACTIVITY, {"message": "still here"}, event_id=0, ts=1.0)
    await get_channel_layer().group_send(events.EVENTS_GROUP, events.group_message(text))
    assert await socket.receive_from(timeout=5) == text


async def test_logout_closes_the_sockets_of_that_session_only(user, log_in):
    before = replace(stats)
    client, socket = await log_in(user)
    _, other_session = await log_in(user)
    await sync_to_async(client.logout)()
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED
    # The same user's other session (another browser) is still logged in, and watching.
    await still_open(other_session)
    assert stats.closed_session_ended == before.closed_session_ended + 1
    assert stats.open == before.open + 1
    await other_session.disconnect()


async def test_password_change_closes_every_socket_of_the_user(user, log_in, django_user_model):
    _, first = await log_in(user)
    _, second = await log_in(user)
    bystander = await django_user_model.objects.acreate(username="bystander")
    _, unrelated = await log_in(bystander)

    user.set_password("a-new-password-9")
    await user.asave()
    assert [await closed_with(first), await closed_with(second)] == [CLOSE_UNAUTHENTICATED] * 2
    await still_open(unrelated)
    await unrelated.disconnect()


async def test_deactivation_closes_the_users_sockets(user, log_in):
    _, socket = await log_in(user)
    user.is_active = False
    await user.asave(update_fields=["is_active"])
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_deleting_the_user_closes_their_sockets(user, log_in):
    _, socket = await log_in(user)
    await user.adelete()
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_losing_the_control_permission_closes_with_4403_and_the_user_watches_on(controller, log_in):
    before = replace(stats)
    client, socket = await log_in(controller)
    await sync_to_async(controller.user_permissions.remove)(await sync_to_async(control_permission)())
    assert await closed_with(socket) == CLOSE_FORBIDDEN
    assert stats.closed_rights_lost == before.closed_rights_lost + 1
    # The session is intact: the browser reconnects, without the controls.
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
    again = events_socket(cookie=cookie.encode())
    assert (await again.connect())[0]
    ack = orjson.loads(await again.receive_from(timeout=5))
    assert (ack["type"], ack["data"]["can_control"]) == (events.CONNECTION, False)
    await again.disconnect()


async def test_losing_the_permission_through_a_group_closes_with_4403(django_user_model, log_in):
    @sync_to_async
    def desk_member():
        desk = Group.objects.create(name="desk")
        desk.permissions.add(control_permission())
        member = django_user_model.objects.create_user(username="member")
        member.groups.add(desk)
        return desk, member

    desk, member = await desk_member()
    _, socket = await log_in(member)
    await sync_to_async(desk.permissions.clear)()
    assert await closed_with(socket) == CLOSE_FORBIDDEN


async def test_leaving_the_group_that_gave_the_permission_closes_with_4403(django_user_model, log_in):
    @sync_to_async
    def desk_member():
        desk = Group.objects.create(name="desk")
        desk.permissions.add(control_permission())
        member = django_user_model.objects.create_user(username="member")
        member.groups.add(desk)
        return desk, member

    desk, member = await desk_member()
    _, socket = await log_in(member)
    await sync_to_async(desk.user_set.clear)()  # the reverse side: the group's users
    assert await closed_with(socket) == CLOSE_FORBIDDEN


async def test_a_viewer_is_not_closed_by_changes_that_leave_them_a_viewer(user, log_in):
    _, socket = await log_in(user)
    user.first_name = "Renamed"
    await user.asave()
    await sync_to_async(lambda: Group.objects.create(name="other").user_set.add(user))()
    await still_open(socket)
    await socket.disconnect()


async def test_control_command_reads_the_permission_when_it_runs(controller, log_in):
    """Even when no revocation reached the socket (the permission removed by raw SQL,
    which sends no signal), a kill is refused and the socket closes with 4403."""
    _, socket = await log_in(controller)

    @sync_to_async
    def revoke_silently():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM auth_user_user_permissions WHERE user_id = %s", [controller.pk])

    await revoke_silently()
    await socket.send_to(text_data=orjson.dumps({"type": "kill", "ref": "k"}).decode())
    assert await closed_with(socket) == CLOSE_FORBIDDEN
    assert not await ActivityEvent.objects.filter(type=events.SYSTEM_ACTIVITY).aexists()


async def test_control_command_of_an_ended_session_is_not_run(controller, log_in):
    _, socket = await log_in(controller)
    await Session.objects.all().adelete()  # sends no signal: only the command's own check sees it
    await socket.send_to(text_data=orjson.dumps({"type": "pause", "ref": "p"}).decode())
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED
    assert not await ActivityEvent.objects.filter(type=events.SYSTEM_ACTIVITY).aexists()


async def test_an_expired_session_closes_its_socket_at_the_next_check(user, log_in, settings):
    configure(settings, "DASHBOARD", session_check_interval=0.1)
    _, socket = await log_in(user)
    await Session.objects.all().aupdate(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    assert await closed_with(socket, within=5) == CLOSE_UNAUTHENTICATED


def test_sessions_last_a_day_by_default():
    assert django_settings.SESSION_COOKIE_AGE == 24 * 3600
