"""Telling a user's open dashboard sockets that their session or rights may have changed.

A socket reads its user once, at connect. Whatever can end a session or take
rights away (logout, a password change, deactivation, deletion, a permission or
group removed) sends one ``session_check`` message to the user's group after the
change commits; each of that user's sockets, in every web process, then re-reads
its session and user (dashboard.sessions.session_user) and closes with 4401 when
the session ended, or 4403 when it may no longer control trading. A logout names
the session it ended (by digest: it is flushed only after the signal), so its
sockets close without waiting for the store.

Changes that send no signal (an expired session, a group or permission deleted,
raw SQL) are caught by each socket's periodic re-check
(DASHBOARD_SESSION_CHECK_INTERVAL).
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model, user_logged_out
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from dashboard.sessions import session_fingerprint
from trading.publisher import get_publisher

SESSION_CHECK = "session_check"


def user_group(user_id: int) -> str:
    """The Channels group every dashboard socket of one user joins."""
    return f"user.{user_id}"


def session_check(*, user_ids: Iterable[int], ended_session: str | None = None) -> None:
    """After the current transaction commits, ask these users' sockets to re-check their
    session; ``ended_session`` (a session key) closes that session's sockets outright."""
    groups = tuple(user_group(pk) for pk in sorted(set(user_ids)))
    if not groups:
        return
    message = {"type": SESSION_CHECK, "ended": session_fingerprint(ended_session) if ended_session else ""}
    transaction.on_commit(lambda: get_publisher().enqueue(groups, message))


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        session_check(user_ids=[user.pk], ended_session=getattr(getattr(request, "session", None), "session_key", None))


def _user_saved(sender: Any, instance: Any, created: bool, update_fields: Any, **kwargs: Any) -> None:
    # Password, is_active, is_superuser: any save of a user may end sessions or take
    # rights, but the last_login stamp every login writes does neither.
    if not created and (update_fields is None or set(update_fields) != {"last_login"}):
        session_check(user_ids=[instance.pk])


def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    session_check(user_ids=[instance.pk])


def _group_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    session_check(user_ids=instance.user_set.values_list("pk", flat=True))


def _users_of_groups(group_ids: Iterable[int]) -> Iterable[int]:
    return get_user_model().objects.filter(groups__in=list(group_ids)).values_list("pk", flat=True)


def _user_relation_changing(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """User.user_permissions, User.groups: a user's permissions or groups, or (``reverse``)
    a permission's or group's users. Handled before the change, when a ``clear`` still
    shows whom it concerns; Django runs it in a transaction, so the check goes out after."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    if not reverse:
        session_check(user_ids=[instance.pk])
    else:
        session_check(user_ids=pk_set if pk_set is not None else instance.user_set.values_list("pk", flat=True))


def _group_permissions_changing(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """Group.permissions: every member of the group (or, ``reverse``, of the permission's groups)."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    if not reverse:
        groups: Iterable[int] = [instance.pk]
    else:
        groups = pk_set if pk_set is not None else instance.group_set.values_list("pk", flat=True)
    session_check(user_ids=_users_of_groups(groups))


def connect_signals() -> None:
    """Called once from DashboardConfig.ready()."""
    user_model = get_user_model()
    uid = "dashboard.revocation"
    user_logged_out.connect(_logged_out, dispatch_uid=uid)
    post_save.connect(_user_saved, sender=user_model, dispatch_uid=uid)
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid=uid)
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid=uid)
    for through in (user_model.user_permissions.through, user_model.groups.through):
        m2m_changed.connect(_user_relation_changing, sender=through, dispatch_uid=f"{uid}.{through.__name__}")
    m2m_changed.connect(_group_permissions_changing, sender=Group.permissions.through, dispatch_uid=uid)
