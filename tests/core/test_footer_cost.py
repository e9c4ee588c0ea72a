"""Opt-out footer and the cost of a campaign after personalisation."""

from __future__ import annotations

from smscast.core.cost import (
    MessageRules,
    Recipient,
    compose_message,
    link_stand_in,
    personalised_cost,
)
from smscast.core.encoding import Encoding
from smscast.core.footer import opt_out_footer, with_opt_out
from smscast.core.templates import compile_template


def test_footer_in_the_contact_language() -> None:
    assert opt_out_footer("en") == "Reply STOP to opt out"
    assert opt_out_footer("pl-PL") == "Odpisz STOP, aby zrezygnować"
    assert opt_out_footer("xx") == "Reply STOP to opt out"
    assert opt_out_footer("en", keyword="STOPALL") == "Reply STOPALL to opt out"


def test_footer_only_on_promotional_messages_when_required() -> None:
    body = "Sale today!"
    assert with_opt_out(body, language="en", promotional=True, required=True) == (
        "Sale today!\nReply STOP to opt out"
    )
    assert with_opt_out(body, language="en", promotional=False, required=True) == body
    assert with_opt_out(body, language="en", promotional=True, required=False) == body
    typed = "Sale!\nReply STOP to opt out"
    assert with_opt_out(typed, language="en", promotional=True, required=True) == typed


def test_footer_is_counted_in_the_parts() -> None:
    template = compile_template("x" * 150)
    plain = compose_message(template, Recipient("a", {}), MessageRules())
    footed = compose_message(template, Recipient("a", {}), MessageRules(footer_required=True))
    assert plain.info.parts == 1
    assert footed.info.parts == 2
    assert footed.text.endswith("\nReply STOP to opt out")


def test_polish_footer_forces_ucs2_unless_smart() -> None:
    template = compile_template("Promocja " + "x" * 100)
    pl = Recipient("a", {}, language="pl")
    strict = compose_message(template, pl, MessageRules(footer_required=True))
    smart = compose_message(template, pl, MessageRules(footer_required=True, smart=True))
    assert (strict.info.encoding, strict.info.parts) == (Encoding.UCS2, 3)
    assert (smart.info.encoding, smart.info.parts) == (Encoding.GSM7, 1)
    assert smart.text.endswith("aby zrezygnowac")
    assert smart.replaced == (("ć", "c"),)


def test_long_name_pushes_one_recipient_over_the_preview() -> None:
    template = compile_template(
        "Hi {{ first_name }}, your code {{ coupon }} gives 20% off: "
        "{{ link('https://shop.example/summer-sale') }} " + "x" * 85,
        known={"first_name"},
    )
    link = link_stand_in("https://s.example", 6)
    rules = MessageRules()
    preview = compose_message(
        template, Recipient("p", {"first_name": "Ann", "coupon": "A1"}), rules, link=link
    )
    recipients = [
        Recipient("+48500000001", {"first_name": "Ola", "coupon": "QW12"}),
        Recipient("+48500000002", {"first_name": "Maximilian-Alexander", "coupon": "QW13"}),
        Recipient("+48500000003", {"first_name": "Łucja", "coupon": "QW14"}),
        Recipient("+48500000004", {"coupon": "QW15"}),
    ]
    report = personalised_cost(
        template, recipients, preview_parts=preview.info.parts, rules=rules, link=link
    )
    assert preview.info.parts == 1
    assert dict(report.per_recipient) == {"+48500000001": 1, "+48500000002": 2, "+48500000003": 3}
    assert report.over_preview == (("+48500000002", 2), ("+48500000003", 3))
    assert report.worst == 3
    assert report.total_parts == 6
    assert report.average == 2.0
    [(key, problem)] = report.problems
    assert key == "+48500000004" and problem.field == "first_name"


def test_link_stand_in_has_the_length_of_a_real_short_link() -> None:
    link = link_stand_in("https://s.example/", 7)
    assert link("https://very.long.example/path?q=1") == "https://s.example/xxxxxxx"
