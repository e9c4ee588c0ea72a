"""Imports over the API: a CSV body, a job with counters to poll, the refused rows."""

from __future__ import annotations

import time

from api_checks import problem_of
from fastapi.testclient import TestClient

CSV = b"phone;first_name;consent\n+48601234567;Ala;yes\n+48 12;Bad;yes\n601234568;Ola;no\n"


def _finished(client: TestClient, job_id: int) -> dict:
    for _ in range(500):
        job = client.get(f"/api/v1/contacts/imports/{job_id}").json()
        if job["status"] == "finished":
            return job
        time.sleep(0.02)
    raise AssertionError("the import did not finish")


def test_an_uploaded_csv_is_imported_and_its_bad_rows_reported(client: TestClient) -> None:
    started = client.post(
        "/api/v1/contacts/imports",
        content=CSV,
        params={"filename": "shop customers.csv", "consent_source": "checkout form v3"},
        headers={"Content-Type": "text/csv"},
    )
    assert started.status_code == 202, started.text
    assert started.json()["rows_total"] == 3
    job = _finished(client, started.json()["id"])
    assert (job["rows_read"], job["created"], job["rejected"]) == (3, 2, 1)
    assert job["filename"] == "shop_customers.csv"
    report = client.get(f"/api/v1/contacts/imports/{job['id']}/errors")
    assert report.headers["content-type"].startswith("text/csv")
    assert "+48 12" in report.text
    listed = client.get("/api/v1/contacts/imports").json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]
    ala = client.get("/api/v1/contacts", params={"phone_prefix": "+48601234567"}).json()
    consent = client.get(f"/api/v1/contacts/{ala['items'][0]['id']}/consent").json()
    assert consent["events"][0]["evidence"] == "checkout form v3"


def test_a_file_without_a_phone_column_is_refused_at_once(client: TestClient) -> None:
    refused = client.post(
        "/api/v1/contacts/imports",
        content=b"name,city\nAla,Krakow\n",
        headers={"Content-Type": "text/csv"},
    )
    assert problem_of(refused, 422)["code"] == "no_phone_column"
    empty = client.post(
        "/api/v1/contacts/imports", content=b"", headers={"Content-Type": "text/csv"}
    )
    assert problem_of(empty, 422)["code"] == "empty_file"
    wrong = client.post(
        "/api/v1/contacts/imports", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert problem_of(wrong, 415)["field"] == "Content-Type"
