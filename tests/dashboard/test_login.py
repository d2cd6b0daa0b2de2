"""Login throttling through the real login view: five failures for one username
from one address lock that pair out for 15 minutes, before any password is hashed."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import base_user
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
HOME = "10.0.0.7"


@pytest.fixture
def trader(django_user_model):
    return django_user_model.objects.create_user(username="trader", password=PASSWORD)


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """Every password the login checks against a stored hash."""
    calls: list[str] = []
    real = base_user.check_password

    def counting(password, encoded, setter=None, preferred="default"):
        calls.append(password)
        return real(password, encoded, setter, preferred)

    monkeypatch.setattr(base_user, "check_password", counting)
    return calls


def login(client, username: str, password: str, address: str = HOME):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(client, username: str = "trader") -> None:
    for _ in range(4):
        response = login(client, username, "wrong guess")
        assert response.status_code == 200 and b"didn't match" in response.content
    assert login(client, username, "wrong guess").status_code == 429, "the fifth failure says it locked"


def test_five_failures_lock_out_even_the_right_password_without_hashing_it(client, trader, hashed, caplog):
    fail_five_times(client)
    hashed.clear()

    response = login(client, "trader", PASSWORD)

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert not logged_in(client)
    assert hashed == [], "a locked-out attempt must not reach the password hasher"
    assert "login failure" in caplog.text and "trader" in caplog.text
    assert PASSWORD not in caplog.text and "wrong guess" not in caplog.text


def test_four_failures_still_let_the_owner_in(client, trader):
    for _ in range(4):
        login(client, "trader", "wrong guess")
    assert login(client, "trader", PASSWORD).status_code == 302
    assert logged_in(client)


def test_lockout_leaves_other_users_and_addresses_alone(client, trader, django_user_model):
    django_user_model.objects.create_user(username="colleague", password=PASSWORD)
    fail_five_times(client)

    assert login(client, "colleague", PASSWORD).status_code == 302, "another user from the same address"
    client.logout()
    assert login(client, "trader", PASSWORD, address="10.0.0.8").status_code == 302, "the owner from elsewhere"


def test_lockout_ends_after_fifteen_minutes(client, trader):
    fail_five_times(client)
    assert login(client, "trader", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))

    assert login(client, "trader", PASSWORD).status_code == 302
    assert logged_in(client)


def test_attempts_while_locked_do_not_extend_the_lock(client, trader):
    fail_five_times(client)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert login(client, "trader", "another guess").status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))

    assert login(client, "trader", PASSWORD).status_code == 302


def test_passwords_need_twelve_characters(trader):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("k7#Vq9!zR2m", user=trader)
    validate_password("k7#Vq9!zR2mX", user=trader)
