"""Every page of the portal in Polish has no English left.

A Polish member of a workspace of their own (so other tests' English data is not on
the pages) walks every page the menu, the settings tabs and the lists lead to, and
every word a person can read or hear there — text, titles, labels, placeholders,
button values — must be a word of the Polish catalogue, of Babel's Polish locale data
(months, countries, units), of the data seeded here, or a name of a technology. A word
that is none of these is an English word left untranslated, or a word not in the
catalogue at all, and the test names it with the page and the sentence it stands in.

Code samples (`<code>`, `<kbd>`, `<samp>`, `<pre>`), content marked `translate="no"`
(the HTML attribute for text that is not to be translated: a message's own words, a
template, a name) and content declared in another language (`lang="en"`: a carrier's
own answer, a built-in English reply) are not the portal's words and are skipped.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from babel import Locale
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import Credentials, PortalServer

pytestmark = pytest.mark.browser

CATALOGUE = (
    Path(__file__).resolve().parents[2] / "src/smscast/web/locale/pl/LC_MESSAGES/messages.po"
)
# Names of technologies, products and formats, the same in any language; and each
# language's own name in the language menu (English is offered as "English").
NAMES = {
    "smscast", "sms", "smpp", "gsm", "ucs", "api", "csv", "url", "http", "https", "json",
    "twilio", "infobip", "kannel", "smtp", "smsc", "english", "polski", "uplot", "htmx",
    "bind", "transceiver", "transmitter", "receiver", "system_id", "esme", "tls", "utc",
}  # fmt: skip
SKIPPED = "code, kbd, samp, pre, script, style, [translate=no]"
COLLECT_TEXT = """(skipped) => {
  const inPolish = (element) => (element.closest("[lang]")?.getAttribute("lang") || "pl")
    .startsWith("pl");
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (parent && !parent.closest(skipped) && inPolish(parent) && node.textContent.trim()) {
      out.push(node.textContent.trim());
    }
  }
  const named = "[placeholder], [title], [aria-label], [alt], input[type=submit], "
    + "input[type=button]";
  for (const element of document.querySelectorAll(named)) {
    if (element.closest(skipped) || !inPolish(element)) continue;
    for (const attribute of ["placeholder", "title", "aria-label", "alt"]) {
      const value = element.getAttribute(attribute);
      if (value) out.push(value);
    }
    if (element.matches("input[type=submit], input[type=button]") && element.value) {
      out.push(element.value);
    }
  }
  return out;
}"""
# What is not a word to check: addresses, emails, identifiers with dots, slashes or
# underscores (time zones like Europe/Warsaw, file names, variables like first_name).
NOT_WORDS = re.compile(r"\S+://\S+|\S+@\S+|\S*[\w-]+[/_.][\w/_.-]+\S*|\{\{[^}]*\}\}|%\(\w+\)s")
WORD = re.compile(r"[^\W\d_]{3,}")
# Seeded data (contact names, campaign and keyword names, texts): Polish on purpose,
# so every word on the pages is expected to be Polish.
WORKSPACE = "Kwiaciarnia Różana"
CONTACTS = [("Zofia", "Wiśniewska"), ("Jakub", "Kowalczyk"), ("Łucja", "Zielińska")]
KEYWORD = "KWIATY"
REPLY = "Dziękujemy! Bukiet dnia kosztuje dziś 49 zł."
INBOUND = "Czy dostarczacie w niedzielę?"
CAMPAIGN = "Walentynki z różami"
CAMPAIGN_BODY = "Cześć {{ first_name }}, róże na walentynki z dostawą jutro."
SEGMENT = "Stałe klientki"
MEMBER_NAME = "Hanna Polak"
EVIDENCE = "formularz zapisu w sklepie przy kasie"
CONNECTOR = "bramka"
NUMBER = "7077"
PUSH_SECRET = "tajne-haslo-bramki"
TAG = "stała"
BOOTSTRAP_ADMIN = "Admin"  # the name `smscast bootstrap` gives the first user
# The audit log names who ran the test's CLI command: this machine's user.
CLI_USER = getpass.getuser()


@cache
def polish_vocabulary() -> frozenset[str]:
    """Words of every Polish translation, of Babel's Polish locale data, and the names."""
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="pl")
    texts: list[str] = []
    for message in catalogue:
        if not message.id:  # the header
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        texts.extend(s for s in strings if s)
    texts.extend(_strings(Locale.parse("pl")._data._data))
    seeded = [WORKSPACE, KEYWORD, REPLY, INBOUND, CAMPAIGN, CAMPAIGN_BODY, SEGMENT, MEMBER_NAME,
              EVIDENCE, CONNECTOR, TAG, BOOTSTRAP_ADMIN, CLI_USER]  # fmt: skip
    texts.extend(seeded + [" ".join(names) for names in CONTACTS])
    return frozenset(
        word.lower() for text in texts for word in WORD.findall(NOT_WORDS.sub(" ", text))
    ) | frozenset(NAMES)


def _strings(data: Any) -> Iterator[str]:
    """Every string in Babel's locale data (nested dicts, lists and tuples)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _strings(value)


def foreign_words(texts: Iterable[str], vocabulary: frozenset[str]) -> dict[str, str]:
    """Each word that is not in `vocabulary`, with the first text it stands in."""
    found: dict[str, str] = {}
    for text in texts:
        for word in WORD.findall(NOT_WORDS.sub(" ", text)):
            if word.lower() not in vocabulary:
                found.setdefault(word, text)
    return found


def test_the_checker_finds_an_english_word_among_polish_ones() -> None:
    vocabulary = polish_vocabulary()
    assert foreign_words(["Zapisz kampanię", "Wyloguj się", "12 grudnia 2026"], vocabulary) == {}
    assert foreign_words(["Zapisz", "Save campaign"], vocabulary) == {
        "Save": "Save campaign",
        "campaign": "Save campaign",
    }
    assert foreign_words(["Strefa: Europe/Warsaw, plik kontakty_2026.csv"], vocabulary) == {}


@dataclass(frozen=True)
class PolishWorkspace:
    credentials: Credentials
    number: str


@pytest.fixture(scope="module")
def polish_workspace(
    portal_server: PortalServer, admin_credentials: Credentials
) -> PolishWorkspace:
    """A workspace of its own with a Polish owner and Polish data: contacts, a segment,
    a campaign, a keyword rule, and texts received on its number (one opened a ticket).

    Its number is on an Infobip connector whose pushes the test makes itself: the
    built-in simulator hands every inbound text to the first workspace's connector.
    Nothing is sent from here (no carrier answers), so no carrier's English error text
    shows up on the pages.
    """
    from conftest import Credentials

    member = Credentials("hanna@kwiaciarnia.test", "hasło do portalu kwiaciarni")
    with httpx.Client(base_url=portal_server.url, timeout=30.0) as client:
        admin = _session(client, admin_credentials.email, admin_credentials.password)
        created = client.post("/api/v1/workspaces", headers=admin, json={
            "name": WORKSPACE, "country": "PL", "timezone": "Europe/Warsaw"})  # fmt: skip
        assert created.status_code == 201, created.text
        workspace_id = created.json()["id"]
        owner = _session(client, admin_credentials.email, admin_credentials.password,
                         workspace_id)  # fmt: skip
        _ok(client.post("/api/v1/users", headers=owner, json={
            "email": member.email, "role": "owner", "name": MEMBER_NAME,
            "password": member.password}))  # fmt: skip
        added = portal_server.smscast(
            "connectors", "add", CONNECTOR, "--kind", "infobip", "--workspace", str(workspace_id),
            "--setting", "base_url=http://127.0.0.1:9", "--setting", "api_key=klucz",
            "--setting", f"webhook_secret={PUSH_SECRET}", "--json",
        )  # fmt: skip
        connector_id = json.loads(added)["id"]
        _ok(client.post("/api/v1/numbers", headers=owner,
                        json={"number": NUMBER, "connector": CONNECTOR}))  # fmt: skip
        for index, (first, last) in enumerate(CONTACTS):
            phone = f"+4860070700{index}"
            _ok(client.post("/api/v1/contacts", headers=owner, json={
                "phone": phone, "language": "pl", "tags": [TAG],
                "attributes": {"first_name": first, "last_name": last}}))  # fmt: skip
            _ok(client.post("/api/v1/consent/opt-in", headers=owner, json={
                "phone": phone, "channel": "sms", "purpose": "promotional",
                "evidence": EVIDENCE}))  # fmt: skip
        _ok(
            client.post(
                "/api/v1/segments",
                headers=owner,
                json={"name": SEGMENT, "expression": f'tags contains "{TAG}"'},
            )
        )
        _ok(client.post("/api/v1/keyword-rules", headers=owner, json={
            "number": NUMBER, "keyword": KEYWORD,
            "actions": [{"type": "tag", "name": "kwiaty"}]}))  # fmt: skip
        _ok(client.post("/api/v1/campaigns", headers=owner, json={
            "name": CAMPAIGN, "body": CAMPAIGN_BODY, "segment_name": SEGMENT,
            "from_number": NUMBER}))  # fmt: skip
        pushed = client.post(
            f"/hooks/infobip/{connector_id}/inbound",
            headers={"X-Smscast-Secret": PUSH_SECRET},
            json={"results": [
                {"from": "48600707000", "to": NUMBER, "text": KEYWORD, "messageId": "pl-1",
                 "receivedAt": "2026-12-01T10:00:00.000+0000"},
                {"from": "48600707001", "to": NUMBER, "text": INBOUND, "messageId": "pl-2",
                 "receivedAt": "2026-12-01T10:05:00.000+0000"},
            ]},
        )  # fmt: skip
        _ok(pushed)
    return PolishWorkspace(member, NUMBER)


def _session(
    client: httpx.Client, email: str, password: str, workspace_id: int | None = None
) -> dict[str, str]:
    body: dict[str, Any] = {"email": email, "password": password}
    if workspace_id is not None:
        body["workspace_id"] = workspace_id
    login = client.post("/api/v1/auth/login", json=body)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201, 202), f"{answer.request.url}: {answer.text}"
    return answer.json() if answer.content else None


# Pages reached from a list by the first link whose address matches.
DETAILS = {
    "/campaigns": re.compile(r"^/campaigns/\d+$"),
    "/contacts": re.compile(r"^/contacts/\d+$"),
    "/numbers": re.compile(r"^/numbers/\d+$"),
    "/inbox": re.compile(r"^/inbox/\d+$"),
    "/connectors": re.compile(r"^/connectors/\d+$"),
}
# Pages no menu leads to directly.
MORE = ["/campaigns/new", "/contacts/import", "/segments/new", "/inbox/saved-replies",
        "/keywords/new", "/connectors/new", "/settings/webhooks/new", "/profile",
        "/analytics/responses?period=all", "/invite/no-such-invitation",
        "/this-page-does-not-exist"]  # fmt: skip


def test_every_page_in_polish_has_no_english_left(
    browser: Browser, polish_workspace: PolishWorkspace, portal_url: str, sign_in_as: Any
) -> None:
    context = browser.new_context(base_url=portal_url, locale="pl-PL")
    page = context.new_page()
    try:
        page.goto("/login")
        with page.expect_navigation():
            page.select_option("#language-select", "pl")
        _check(page, "/login")
        page.get_by_label("E-mail").fill(polish_workspace.credentials.email)
        page.get_by_label("Hasło").fill(polish_workspace.credentials.password)
        page.get_by_role("button", name="Zaloguj się").click()
        page.wait_for_url(re.compile(r"/dashboard"))
        problems: dict[str, dict[str, str]] = {}
        paths = _pages(page)
        unvisited = [path for path, detail in DETAILS.items() if not any(map(detail.match, paths))]
        assert unvisited == [], f"no detail page found from {unvisited}: the walk is short"
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            found = foreign_words(page.evaluate(COLLECT_TEXT, SKIPPED), polish_vocabulary())
            if found:
                problems[path] = found
        assert problems == {}, "English left on Polish pages:\n" + "\n".join(
            f"{path}: " + "; ".join(f"{word!r} in {text!r}" for word, text in found.items())
            for path, found in problems.items()
        )
    finally:
        context.close()


def _check(page: Page, path: str) -> None:
    found = foreign_words(page.evaluate(COLLECT_TEXT, SKIPPED), polish_vocabulary())
    assert found == {}, f"English left on {path}: {found}"


def _pages(page: Page) -> list[str]:
    """The menu's pages, the settings tabs, one detail page of each list, and the rest."""
    paths: list[str] = []
    menu = page.eval_on_selector_all(
        ".site-nav a", "links => links.map(a => a.getAttribute('href'))"
    )
    for path in menu:
        paths.append(path)
        page.goto(path)
        links = page.eval_on_selector_all(
            "main a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        pattern = DETAILS.get(path)
        detail = next((link for link in links if pattern and pattern.match(link)), None)
        if detail:
            paths.append(detail)
            if path == "/connectors":
                paths.append(f"{detail}/edit")
        if path == "/settings":
            paths.extend(
                page.eval_on_selector_all(
                    "nav.tabs a", "links => links.map(a => a.getAttribute('href'))"
                )
            )
    paths.extend(MORE)
    return list(dict.fromkeys(paths))
