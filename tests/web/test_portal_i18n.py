"""The portal in English and Polish: choosing the language, remembering it, plural forms
and numbers, money and moments written as each language writes them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jinja2 import Environment
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.web import i18n
from smscast.web.routes import NAV
from smscast.web.templating import build_templating

EMAIL = "ola@shop.test"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)))


def new_browser(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)))


def test_polish_from_the_browser(site: TestClient) -> None:
    page = site.get("/login", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert '<html lang="pl">' in page.text
    assert '<label class="field__label" for="email">E-mail</label>' in page.text
    assert '<label class="field__label" for="password">Hasło</label>' in page.text
    assert ">Zaloguj się</button>" in page.text


def test_english_when_the_browser_prefers_it(site: TestClient) -> None:
    page = site.get("/login", headers={"Accept-Language": "de;q=1, en;q=0.8, pl;q=0.5"})
    assert '<html lang="en">' in page.text
    assert 'for="email">Email</label>' in page.text
    assert ">Sign in</button>" in page.text


def _choose(site: TestClient, language: str, page_path: str) -> None:
    token = csrf_of(site.get(page_path).text)
    answer = site.post(
        "/language",
        data={"language": language, "next": page_path, "csrf_token": token},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, page_path)


def test_the_menu_beats_the_browser_when_signed_out(site: TestClient) -> None:
    _choose(site, "pl", "/login")
    page = site.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="pl">' in page.text
    assert "Zaloguj się" in page.text


def test_a_signed_in_users_choice_is_kept_across_sessions(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], EMAIL, now=now)
    first = new_browser(settings, engine, now)
    sign_in(first, EMAIL)
    _choose(first, "pl", "/nowhere")

    second = new_browser(settings, engine, now)  # another device: no cookie of the first
    assert '<html lang="en">' in second.get("/login").text
    sign_in(second, EMAIL)
    page = second.get("/nowhere", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    assert '<html lang="pl">' in page.text
    assert "Nie znaleziono strony" in page.text
    assert "Wyloguj się" in page.text
    assert "Shop, rola: właściciel" in page.text  # the role in the user menu, in Polish too


def test_the_workspace_default_when_nobody_chose(
    site: TestClient, engine: Engine, now: datetime
) -> None:
    from smscast.engine.accounts.workspaces import create_workspace

    polish = create_workspace(engine, "Sklep", "PL", "Europe/Warsaw", actor="test", now=now)
    with engine.begin() as conn:
        from sqlalchemy import update

        from smscast.engine.accounts.workspaces import workspaces

        conn.execute(
            update(workspaces)
            .where(workspaces.c.id == polish.id)
            .values(settings={i18n.WORKSPACE_LANGUAGE_SETTING: "pl"})
        )
    make_user(engine, [polish], EMAIL, now=now)
    sign_in(site, EMAIL)
    assert '<html lang="pl">' in site.get("/nowhere").text


def test_an_unknown_language_is_refused(site: TestClient) -> None:
    token = csrf_of(site.get("/login").text)
    answer = site.post("/language", data={"language": "xx", "csrf_token": token})
    assert answer.status_code == 422
    assert "The portal does not speak that language." in answer.text


@pytest.fixture(scope="module")
def environments() -> dict[str, Environment]:
    return dict(build_templating(NAV).environments)


def _contacts(env: Environment, count: int) -> str:
    template = env.from_string('{% import "macros/text.html" as text %}{{ text.contacts(n) }}')
    return template.render(n=count).strip()


def test_polish_plural_forms(environments: dict[str, Environment]) -> None:
    pl = environments["pl"]
    shown = [_contacts(pl, n) for n in (1, 2, 4, 5, 12, 22, 25, 1000)]
    assert shown == [
        "1 kontakt",
        "2 kontakty",
        "4 kontakty",
        "5 kontaktów",
        "12 kontaktów",
        "22 kontakty",
        "25 kontaktów",
        "1\xa0000 kontaktów",
    ]
    en = environments["en"]
    assert [_contacts(en, n) for n in (1, 2, 1000)] == ["1 contact", "2 contacts", "1,000 contacts"]


def test_numbers_money_and_moments_per_language(environments: dict[str, Environment]) -> None:
    template = (
        "{{ n | number }}|{{ r | percent }}|{{ m | money }}|{{ t | datetime }}|{{ t | date }}"
        "|{{ none | percent }}"
    )
    values = {
        "n": 1234567.5,
        "r": 0.253,
        "m": 12.5,
        "t": datetime(2026, 11, 25, 23, 30, tzinfo=UTC),  # 00:30 next day in Warsaw
        "none": None,
        "currency": "PLN",
        "timezone": "Europe/Warsaw",
    }
    pl = environments["pl"].from_string(template).render(values)
    assert pl.split("|") == [
        "1\xa0234\xa0567,5",
        "25,3%",
        "12,50\xa0zł",
        "26 lis 2026, 00:30:00",
        "26 lis 2026",
        "–",
    ]
    en = environments["en"].from_string(template).render(values)
    assert en.split("|")[:3] == ["1,234,567.5", "25.3%", "PLN\xa012.50"]
    assert en.split("|")[4] == "Nov 26, 2026"


def test_user_values_in_translated_text_are_escaped(environments: dict[str, Environment]) -> None:
    page = environments["pl"].from_string("{{ _('Error %(status)s', status=s) }}")
    assert page.render(s="<b>") == "Błąd &lt;b&gt;"


def test_a_po_without_its_mo_is_still_polish(tmp_path: Path) -> None:
    folder = tmp_path / "pl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    shutil.copy(i18n.LOCALE_DIR / "pl" / "LC_MESSAGES" / "messages.po", folder / "messages.po")
    assert i18n.load_translations("pl", tmp_path).gettext("Sign in") == "Zaloguj się"


def test_a_language_without_a_catalogue_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(i18n.MissingCatalogue, match="no translation catalogue for 'pl'"):
        i18n.load_translations("pl", tmp_path)


def test_every_polish_entry_is_translated() -> None:
    from babel.messages.pofile import read_po

    with (i18n.LOCALE_DIR / "pl" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="pl")
    untranslated = [
        message.id
        for message in catalog
        if message.id
        and (
            "fuzzy" in message.flags
            or not all(message.string if isinstance(message.string, tuple) else [message.string])
        )
    ]
    assert untranslated == []
