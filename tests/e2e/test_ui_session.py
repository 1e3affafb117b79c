"""The pages' session and CSRF protection, through the app (``api.ui.session``).

Signing in starts a signed, expiring session cookie that names the key and never holds
it; a tampered, expired or revoked session sends the reader back to sign in; the cookie
is ``Secure`` over https; every form post needs its CSRF token. On SQLite and
PostgreSQL (the ``ledger`` fixture's backends)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from api.app import create_app
from api.ui import session
from ledger.bootstrap import Ledger

TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def set_cookies(answer: object) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of a response: its value and attributes (lower-case names)."""
    out: dict[str, dict[str, str]] = {}
    for header in answer.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            attrs = {k: str(v) for k, v in morsel.items() if v}
            lowered = header.lower()
            attrs["httponly"] = "yes" if "httponly" in lowered else ""
            attrs["secure"] = "yes" if "; secure" in lowered else ""
            out[name] = {"value": morsel.value, **attrs}
    return out


def token_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no CSRF token in the form"
    return found.group(1)


class Pages:
    def __init__(self, client: TestClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.keys: dict[str, str] = {}

    def key(self, name: str, role: str = "investigator") -> str:
        if name not in self.keys:
            self.keys[name] = self.ledger.keys.create(name, role)
        return self.keys[name]

    def sign_in(self, name: str = "reader", role: str = "investigator") -> object:
        form = self.client.get("/ui/sign-in")
        assert form.status_code == 200
        answer = self.client.post(
            "/ui/sign-in",
            data={
                "key": self.key(name, role),
                "next": "/ui/assets",
                "csrf_token": token_of(form.text),
            },
        )
        assert answer.status_code == 303, answer.text
        return answer

    def replace_cookie(self, name: str, value: str) -> None:
        """What a browser would send: this cookie alone, in place of what it had."""
        self.client.cookies.clear()
        self.client.cookies.set(name, value)

    def signed_in(self) -> bool:
        answer = self.client.get("/ui/assets")
        if answer.status_code == 200:
            return True
        assert answer.status_code == 303 and "/ui/sign-in" in answer.headers["location"]
        return False


@pytest.fixture
def pages(ledger: Ledger) -> Iterator[Pages]:
    app = create_app(ledger=ledger)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        yield Pages(client, ledger)


@pytest.fixture
def https_pages(ledger: Ledger) -> Iterator[Pages]:
    app = create_app(ledger=ledger)
    with TestClient(
        app,
        base_url="https://ledger.example",
        follow_redirects=False,
        raise_server_exceptions=False,
    ) as client:
        yield Pages(client, ledger)


# -- the cookie -------------------------------------------------------------------------------


def test_the_session_cookie_names_the_key_and_never_holds_it(pages: Pages) -> None:
    answer = pages.sign_in()
    key = pages.keys["reader"]
    cookie = set_cookies(answer)[session.COOKIE]
    assert key not in cookie["value"] and key[3:] not in cookie["value"]
    assert key[3:20] not in cookie["value"]  # not even a piece of it
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/ui" and int(cookie["max-age"]) == session.SESSION_MAX_AGE
    assert not cookie["secure"]  # plain http: a Secure cookie would not come back
    assert pages.signed_in()
    # Nor does any other cookie the pages set.
    for value in pages.client.cookies.values():
        assert key[3:20] not in value


def test_over_https_every_cookie_of_the_pages_is_secure(https_pages: Pages) -> None:
    form = https_pages.client.get("/ui/sign-in")
    assert set_cookies(form)[session.CSRF_COOKIE]["secure"]
    answer = https_pages.sign_in()
    cookie = set_cookies(answer)[session.COOKIE]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"].lower() == "lax"
    assert https_pages.signed_in()
    token = token_of(https_pages.client.get("/ui").text)
    out = https_pages.client.post("/ui/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    assert set_cookies(out)[session.COOKIE]["secure"]


def test_a_tampered_cookie_is_refused(pages: Pages) -> None:
    pages.sign_in()
    value = pages.client.cookies[session.COOKIE]
    payload, stamp, signature = value.rsplit(".", 2)
    # Another key's name in the payload, the signature kept.
    forged = session.encode(
        pages.client.app.state.service, session.Session("admin", "admin", None, "x", "t")
    )  # type: ignore[attr-defined]
    for bad in (
        f"{forged.rsplit('.', 2)[0]}.{stamp}.{signature}",
        f"{payload}.{stamp}.{signature[:-2]}AA",
        f"{payload}x.{stamp}.{signature}",
        "lk_not-a-session",
    ):
        pages.replace_cookie(session.COOKIE, bad)
        answer = pages.client.get("/ui/assets")
        assert answer.status_code == 303, bad
        assert answer.headers["location"].startswith(
            "/ui/sign-in?next=%2Fui%2Fassets&reason=expired"
        )
        assert set_cookies(answer)[session.COOKIE]["value"] == ""  # and it is removed


def test_an_expired_session_sends_the_reader_back_to_sign_in(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Signed thirteen hours ago: one more than a session lasts.
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 13 * 3600)
        pages.sign_in()
    assert not pages.signed_in()
    # Eleven hours ago is still within the working day.
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 11 * 3600)
        pages.sign_in()
    assert pages.signed_in()


def test_revoking_the_key_ends_its_session(pages: Pages) -> None:
    pages.sign_in()
    assert pages.signed_in()
    pages.ledger.keys.revoke("reader")
    answer = pages.client.get("/ui/assets")
    assert answer.status_code == 303 and "reason=expired" in answer.headers["location"]
    follow = pages.client.get(answer.headers["location"])
    assert "its key was revoked" in follow.text


def test_a_key_made_anew_under_a_revoked_name_does_not_revive_old_sessions(
    pages: Pages,
) -> None:
    pages.sign_in()
    old = pages.client.cookies[session.COOKIE]
    created = session.decode(pages.client.app.state.service, old)  # type: ignore[attr-defined]
    assert created is not None and created.name == "reader"
    # A session naming the key with another creation time is another key's.
    service = pages.client.app.state.service  # type: ignore[attr-defined]
    other = session.encode(
        service, session.Session("reader", "investigator", None, "2001-01-01T00:00:00+00:00", "t")
    )
    pages.replace_cookie(session.COOKIE, other)
    assert not pages.signed_in()


def test_the_old_cookie_holding_a_key_no_longer_signs_in(pages: Pages) -> None:
    key = pages.key("reader")
    pages.replace_cookie(session.LEGACY_COOKIE, key)
    assert not pages.signed_in()
    # Signing in removes it from the browser.
    answer = pages.sign_in()
    assert set_cookies(answer)[session.LEGACY_COOKIE]["value"] == ""


# -- CSRF -------------------------------------------------------------------------------------


def test_signing_in_needs_the_forms_csrf_token(pages: Pages) -> None:
    key = pages.key("reader")
    form = pages.client.get("/ui/sign-in")
    token = token_of(form.text)
    for data in (
        {"key": key},  # no token
        {"key": key, "csrf_token": ""},
        {"key": key, "csrf_token": token + "x"},  # wrong token
    ):
        answer = pages.client.post("/ui/sign-in", data=data)
        assert answer.status_code == 403, data
        assert "did not come from this site" in answer.text
        assert session.COOKIE not in set_cookies(answer)
        assert key not in answer.text
    # The right token, but without the cookie the form set: another site's post.
    pages.client.cookies.clear()
    answer = pages.client.post("/ui/sign-in", data={"key": key, "csrf_token": token})
    assert answer.status_code == 403 and session.COOKIE not in set_cookies(answer)
    # The refusal renews the form: its new token works.
    answer = pages.client.post(
        "/ui/sign-in", data={"key": key, "csrf_token": token_of(answer.text)}
    )
    assert answer.status_code == 303 and set_cookies(answer)[session.COOKIE]["value"]


def test_signing_out_needs_the_sessions_csrf_token(pages: Pages) -> None:
    pages.sign_in()
    home = pages.client.get("/ui")
    token = token_of(home.text)  # the header's sign-out form
    for data in ({}, {"csrf_token": "forged"}):
        answer = pages.client.post("/ui/sign-out", data=data)
        assert answer.status_code == 403, data
        assert "still signed in" in answer.text
        assert session.COOKIE not in set_cookies(answer)
        assert pages.signed_in()
    # Another session's token does not do either.
    other = Pages(TestClient(pages.client.app, follow_redirects=False), pages.ledger)
    other.keys = pages.keys
    other.sign_in()
    other_token = token_of(other.client.get("/ui").text)
    assert other_token != token
    assert pages.client.post("/ui/sign-out", data={"csrf_token": other_token}).status_code == 403
    answer = pages.client.post("/ui/sign-out", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?reason=signed-out"
    assert set_cookies(answer)[session.COOKIE]["value"] == ""
    assert not pages.signed_in()


def test_the_secret_is_kept_beside_the_signing_key_so_every_process_shares_it(
    pages: Pages, ledger: Ledger
) -> None:
    pages.sign_in()
    cookie = pages.client.cookies[session.COOKIE]
    secret = ledger.settings.signing_key_file.with_name(session.SECRET_FILE)
    assert secret.is_file() and secret.stat().st_mode & 0o777 == 0o600
    # Another process (no secret in memory, another app) reads the same file.
    session._secrets.clear()
    with TestClient(create_app(ledger=ledger), follow_redirects=False) as other:
        other.cookies.set(session.COOKIE, cookie)
        assert other.get("/ui/assets").status_code == 200
    # A new secret ends every session.
    secret.unlink()
    session._secrets.clear()
    assert not pages.signed_in()
