"""`smscast campaigns preview` and `report` rates, template and coupon mistakes caught at
create, and counts printed with their noun in the right number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.cli.app import app

runner = CliRunner()
PHONES = ("+48600100200", "+48600100201")


@pytest.fixture
def cli(db_url, settings, workspace, monkeypatch, engine):
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_SECRET_KEY", "test-secret")
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> object:
        return runner.invoke(app, list(args))

    for phone in PHONES:
        opted = run("consent", "opt-in", phone, "--channel", "sms", "--evidence", "form")
        assert opted.exit_code == 0, opted.output
    return run


def test_preview_shows_recipients_parts_by_encoding_and_cost_before_launch(cli):
    assert cli("workspace", "settings", "--set", "part_price=0.04").exit_code == 0
    created = cli("campaigns", "create", "--name", "Zima", "--segment", 'country = "PL"',
                  "--body", "Zimowa wyprzedaż: -30% na wszystko", "--purpose", "informational")
    assert created.exit_code == 0, created.output
    campaign_id = created.output.strip()
    preview = json.loads(cli("campaigns", "preview", campaign_id, "--json").output)
    assert (preview["targeted"], preview["recipients"], preview["excluded_total"]) == (2, 2, 0)
    assert preview["encodings"] == {"UCS-2": {"messages": 2, "parts": 2}}
    assert (preview["parts"], preview["cost"]) == (2, 0.08)
    shown = cli("campaigns", "preview", campaign_id)
    assert shown.exit_code == 0, shown.output
    assert "2 contacts in the segment, 2 recipients" in shown.output
    assert "UCS-2          2 messages, 2 parts" in shown.output
    assert "0.08 (0.04 per part)" in shown.output
    assert "no campaign with id 99" in cli("campaigns", "preview", "99").output


def test_report_prints_rates_with_what_they_are_made_of(cli):
    created = cli("campaigns", "create", "--name", "R", "--segment", "", "--body", "Hi",
                  "--purpose", "informational")
    campaign_id = created.output.strip()
    assert cli("campaigns", "launch", campaign_id).exit_code == 0
    report = json.loads(cli("campaigns", "report", campaign_id, "--json").output)
    assert report["rates"]["delivery"] == {"value": None, "numerator": 0, "denominator": 0}
    assert set(report["rates"]) == {"delivery", "click_through", "reply", "opt_out",
                                    "redemption"}  # fmt: skip
    shown = cli("campaigns", "report", campaign_id).output
    assert "delivery         -        (0 delivered of 0 sent)" in shown
    assert "click-through    -        (0 clicked of 0 delivered)" in shown


def test_a_template_reaching_past_its_values_is_refused_at_create(cli):
    created = cli("campaigns", "create", "--name", "x", "--segment", "",
                  "--body", "Hi", "--variant", "B=Hi {{ phone.__class__ }}")
    assert created.exit_code == 1
    assert "variant B: line 1, column 13: a template may not reach '__class__'" in created.output
    assert "no campaigns" in cli("campaigns", "list").output or cli(
        "campaigns", "list", "--json").output.strip() == "[]"


def test_a_coupon_without_a_pool_is_refused_at_create(cli):
    created = cli("campaigns", "create", "--name", "x", "--segment", "",
                  "--body", "Your code: {{ coupon }}")
    assert created.exit_code == 1
    assert "variant A uses {{ coupon }} but the campaign has no coupon pool" in created.output


def test_coupons_are_redeemed_in_any_case_and_a_pool_refuses_codes_differing_in_case(
    cli, tmp_path: Path
):
    codes = tmp_path / "codes.txt"
    codes.write_text("BF-7K2Q\n")
    assert "1 code added to 'bf', 0 skipped" in cli("coupons", "import", "bf", str(codes)).output
    assert "bf: 1 code, 0 given" in cli("coupons", "list").output
    created = cli("campaigns", "create", "--name", "BF", "--segment", f'phone = "{PHONES[0]}"',
                  "--body", "Code {{ coupon }}", "--coupon-pool", "bf")
    assert cli("campaigns", "launch", created.output.strip()).exit_code == 0
    redeemed = cli("coupons", "redeem", " bf-7k2q ", "--json")
    assert redeemed.exit_code == 0, redeemed.output
    assert json.loads(redeemed.output)["code"] == "BF-7K2Q"
    again = cli("coupons", "redeem", "Bf-7K2q")
    assert again.exit_code == 1 and 'coupon "BF-7K2Q" was already redeemed' in again.output
    codes.write_text("NEW-1\nbf-7k2q\n")
    clash = cli("coupons", "import", "bf", str(codes))
    assert clash.exit_code == 1
    assert 'code 2 "bf-7k2q" differs from "BF-7K2Q" (already in the pool) only in case' \
        in clash.output
    assert "bf: 1 code," in cli("coupons", "list").output  # nothing of the file was added


def test_counts_are_printed_with_their_noun_in_the_right_number(cli):
    assert cli("segments", "count", f'phone = "{PHONES[0]}"').output.strip() == "1 contact"
    assert cli("segments", "count", 'country = "PL"').output.strip() == "2 contacts"
    assert cli("contacts", "count").output.startswith("2 contacts · ")
    generated = cli("coupons", "generate", "one", "--count", "1").output
    assert generated.strip() == "1 code generated into 'one'"
