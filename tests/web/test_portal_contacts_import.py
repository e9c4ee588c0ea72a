"""Importing a CSV through the portal: upload, map the columns, follow the job to its
counters, download the refused rows — on the real site, importer and database."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import consent_history
from smscast.engine.contacts.edits import list_contacts

OWNER = "ola@shop.test"
VIEWER = "vic@shop.test"
# Headers the importer cannot guess: a person maps them.
FILE = (
    "Nr kom.;Kto;Miasto;Zgoda marketingowa;Uwagi\n"
    "601 000 001;Ala;Kraków;tak;x\n"
    "601 000 002;Bartek;Gdańsk;nie;y\n"
    "12;Zły numer;Radom;tak;z\n"
    "601 000 003;Celina;Kraków;tak;\n"
).encode()
POLLS = 500


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return make_user(engine, [workspace], OWNER, now=now)


def upload(site: TestClient, data: bytes, source: str = "") -> str:
    token = csrf_of(site.get("/contacts/import").text)
    answer = site.post(
        "/contacts/import",
        data={"csrf_token": token, "consent_source": source},
        files={"file": ("klienci.csv", data, "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def chosen_targets(html: str) -> list[str]:
    """The option selected in each column's menu, in column order."""
    menus = re.findall(r'<select[^>]*name="column-(\d+)">(.*?)</select>', html, re.S)
    return [re.search(r'value="([^"]+)" selected', body).group(1) for _, body in menus]  # type: ignore[union-attr]


def follow(site: TestClient, job_path: str) -> str:
    """Polls the progress block as htmx does until the job has ended; returns it."""
    for _ in range(POLLS):
        block = str(site.get(f"{job_path}/progress", headers={"HX-Request": "true"}).text)
        if 'data-status="running"' not in block:
            return block
    pytest.fail(f"the import at {job_path} still runs after {POLLS} polls")


def counter(block: str, name: str) -> str:
    found = re.search(rf'data-testid="import-{name}">([^<]*)<', block)
    assert found, f"no {name} counter"
    return found.group(1)


def test_upload_map_import_and_download_the_refused_rows(
    site: TestClient, owner: int, engine: Engine, workspace: WorkspaceRef
) -> None:
    sign_in(site, OWNER)
    mapping = upload(site, FILE, source="paper forms at the shop, 2026")

    # The header says nothing the importer knows: every column is guessed an attribute.
    assert chosen_targets(mapping) == ["attribute"] * 5
    assert "Kraków" in mapping and "Nr kom." in mapping  # the first rows are shown
    upload_name = re.search(r'name="upload" value="([^"]+)"', mapping).group(1)  # type: ignore[union-attr]
    start = site.post(
        "/contacts/import/start",
        data={
            "csrf_token": csrf_of(mapping),
            "upload": upload_name,
            "consent_source": "paper forms at the shop, 2026",
            "column-0": "phone",
            "column-1": "first_name",
            "column-2": "attribute",
            "column-3": "consent",
            "column-4": "skip",
        },
        follow_redirects=False,
    )
    assert start.status_code == 303, start.text
    job_path = start.headers["location"]
    assert re.fullmatch(r"/contacts/import/\d+", job_path)

    page = site.get(job_path).text
    assert 'data-testid="import-bar"' in page and 'data-testid="import-counters"' in page
    done = follow(site, job_path)

    assert 'data-status="finished"' in done
    assert "hx-trigger" not in done  # polling stops once the job has ended
    assert re.search(r'<progress id="import-bar" max="(\d+)" value="\1"', done)
    assert (counter(done, "rows-read"), counter(done, "created"), counter(done, "refused")) == (
        "4", "3", "1",
    )  # fmt: skip
    stored = {c["phone"]: c for c in list_contacts(engine, workspace, after=0, limit=10)}
    assert sorted(stored) == ["+48601000001", "+48601000002", "+48601000003"]
    assert stored["+48601000001"]["attributes"] == {"first_name": "Ala", "miasto": "Kraków"}
    [opt_in] = consent_history(engine, workspace, "+48601000001")["events"]
    assert opt_in["evidence"] == "paper forms at the shop, 2026"

    link = re.search(r'href="(/contacts/import/\d+/refused\.csv)"', done)
    assert link, "no download of the refused rows"
    report = site.get(link.group(1))
    assert report.headers["content-type"].startswith("text/csv")
    [refused] = list(csv.DictReader(io.StringIO(report.text)))
    assert refused["row"] == "4" and refused["value"] == "12"
    assert "12" in refused["reason"]


def test_a_mapping_without_a_phone_is_refused_and_kept_to_fix(
    site: TestClient, owner: int, engine: Engine, workspace: WorkspaceRef
) -> None:
    sign_in(site, OWNER)
    mapping = upload(site, FILE)
    upload_name = re.search(r'name="upload" value="([^"]+)"', mapping).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": csrf_of(mapping), "upload": upload_name}
    form.update({f"column-{n}": "attribute" for n in range(5)})

    refused = site.post("/contacts/import/start", data=form)

    assert refused.status_code == 422
    assert "Choose the column that holds the phone number." in unescape(refused.text)
    assert list_contacts(engine, workspace, after=0, limit=10) == []
    again = site.post("/contacts/import/start", data={**form, "column-0": "phone"},
                      follow_redirects=False)  # fmt: skip
    assert again.status_code == 303


def test_known_headers_are_guessed(site: TestClient, owner: int) -> None:
    sign_in(site, OWNER)

    mapping = upload(
        site, b"Telefon,Imie,Nazwisko,Email,Tags,Plan\n601000001,Ala,Nowak,a@b.pl,x,gold\n"
    )

    assert chosen_targets(mapping) == [
        "phone", "first_name", "last_name", "email", "tags", "attribute",
    ]  # fmt: skip


def test_an_empty_file_is_refused_on_the_upload_form(site: TestClient, owner: int) -> None:
    sign_in(site, OWNER)
    token = csrf_of(site.get("/contacts/import").text)

    answer = site.post("/contacts/import", data={"csrf_token": token},
                       files={"file": ("empty.csv", b"", "text/csv")})  # fmt: skip

    assert answer.status_code == 422
    assert "The file is empty" in answer.text


def test_a_viewer_may_not_import_and_an_upload_needs_the_csrf_token(
    site: TestClient, owner: int, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], VIEWER, role="viewer", now=now)
    sign_in(site, OWNER)
    no_token = site.post("/contacts/import", files={"file": ("a.csv", FILE, "text/csv")})
    assert no_token.status_code == 403

    viewer = TestClient(site.app)
    sign_in(viewer, VIEWER)
    assert viewer.get("/contacts/import").status_code == 403


def test_a_consent_column_without_a_source_is_refused_at_the_mapping_and_fixed_there(
    site: TestClient, owner: int, engine: Engine, workspace: WorkspaceRef
) -> None:
    """Without a source the importer records no consent: the yes would be dropped without
    a word and nobody imported could be sent a campaign. The mapping says so instead."""
    sign_in(site, OWNER)
    mapping = upload(site, FILE)  # the first step's source left empty
    upload_name = re.search(r'name="upload" value="([^"]+)"', mapping).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": csrf_of(mapping), "upload": upload_name, "consent_source": "",
            "column-0": "phone", "column-1": "first_name", "column-2": "attribute",
            "column-3": "consent", "column-4": "skip"}  # fmt: skip

    refused = site.post("/contacts/import/start", data=form)

    assert refused.status_code == 422
    shown = unescape(refused.text)
    assert "The column “Zgoda marketingowa” holds consent" in shown
    assert 'href="#consent_source"' in refused.text  # the summary links to the field
    assert chosen_targets(refused.text) == ["phone", "first_name", "attribute", "consent", "skip"]
    assert list_contacts(engine, workspace, after=0, limit=10) == []
    started = site.post("/contacts/import/start", follow_redirects=False,
                        data={**form, "consent_source": "paper forms at the shop"})  # fmt: skip
    assert started.status_code == 303
