"""The connector forms: one per kind, its fields those of the kind's settings class.

SMPP and the SMS providers that came first have forms written by hand (`FORMS`): their
fields in a reader's order with hints. Every other kind registered in
`engine.sending.connectors.HTTP_KINDS` (email, WhatsApp, web push, voice, and whatever
comes next) gets a form generated from its settings dataclass (`form_of`): one field
per dataclass field but the shared `name`, `rate` and `concurrency`, typed from its
annotation (bool, int, float, a Literal or an Enum as a choice, text; a secret by its
name as everywhere else), required when it has no default, labelled through the
catalogue by field name (`FIELD_LABELS`). A kind added tomorrow has a working form
the day it registers; a label of its own is one line here.

The kind picker groups the kinds by channel (`core.channels.KINDS_OF_CHANNEL`), and
`CHANNEL_NAMES` is the portal's one word for each channel.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from dataclasses import dataclass
from typing import Any

from smscast.core.channels import CHANNEL_OF_KIND, KINDS_OF_CHANNEL, Channel
from smscast.engine.sending.connectors import HTTP_KINDS, KINDS, SECRET_SHOWN, redacted_settings
from smscast.web.i18n import N_

SIMULATOR = "simulator"  # a kind of the form only: an SMPP connector to the built-in SMSC
SHARED_FIELDS = frozenset({"name", "rate", "concurrency", "connector_id"})
"""Settings every kind has, typed as the form's name and limits, not as its settings (and
the connector's own id, which the engine fills in)."""

CHANNEL_NAMES = {
    "sms": N_("SMS"),
    "email": N_("Email"),
    "whatsapp": N_("WhatsApp"),
    "push": N_("Web push"),
    "voice": N_("Voice"),
}


@dataclass(frozen=True, slots=True)
class SettingField:
    """One field of a kind's settings as the form shows it."""

    key: str
    label: str  # msgid
    type: str = "text"  # text, url, int, float, secret, choice, bool
    required: bool = False
    hint: str = ""  # msgid
    choices: tuple[tuple[str, str], ...] = ()  # (value, msgid)
    max_length: int = 0
    advanced: bool = False
    numeric: bool = False  # a choice whose values are stored as numbers
    many: bool = False  # a list of values, typed separated by commas


TIMEOUT = SettingField("timeout_s", N_("Request timeout (seconds)"), "float", advanced=True)
SENDER = SettingField("sender", N_("Default sender"),
                      hint=N_("Used when a text names no sender number of its own."))  # fmt: skip
ID_FORMATS = (("text", N_("text")), ("hex", N_("hexadecimal")), ("dec", N_("decimal")))
FORMS: dict[str, tuple[SettingField, ...]] = {
    "smpp": (
        SettingField("host", N_("Host"), required=True),
        SettingField("port", N_("Port"), "int", required=True),
        SettingField("system_id", N_("System ID"), max_length=15),
        SettingField("password", N_("Password"), "secret", max_length=8),
        SettingField("system_type", N_("System type"), max_length=12),
        SettingField("bind_mode", N_("Bind as"), "choice", choices=(
            ("transceiver", N_("transceiver (send and receive)")),
            ("transmitter", N_("transmitter (send only)")),
            ("receiver", N_("receiver (reports and inbound texts only)")))),
        SettingField("binds", N_("Binds"), "int",
                     hint=N_("Sessions to the carrier at once, as many as it granted (1-16). "
                             "The window and the rate are shared by them all.")),
        SettingField("tls", N_("Connect over TLS"), "bool"),
        SettingField("tls_ca_file", N_("TLS certificate authority file"), advanced=True),
        SettingField("address_range", N_("Address range"), advanced=True),
        SettingField("service_type", N_("Service type"), advanced=True),
        SettingField("data_coding", N_("Default data coding"), "choice", advanced=True, choices=(
            ("0", N_("0: the SMSC's default (GSM-7)")), ("3", N_("3: Latin-1")),
            ("8", N_("8: UCS-2"))), numeric=True),
        SettingField("concat", N_("Long texts joined with"), "choice", advanced=True,
                     choices=(("udh", N_("UDH")), ("sar", N_("SAR fields")))),
        SettingField("submit_id_format", N_("Message ids in submit answers"), "choice",
                     choices=ID_FORMATS, advanced=True),
        SettingField("report_id_format", N_("Message ids in delivery reports"), "choice",
                     choices=ID_FORMATS, advanced=True),
        SettingField("national_tables", N_("National shift tables"), advanced=True,
                     hint=N_("Languages whose GSM-7 tables the carrier passes on, e.g. tr,es.")),
        SettingField("enquire_link_s", N_("Keep-alive every (seconds)"), "float", advanced=True),
        SettingField("response_timeout_s", N_("Answer timeout (seconds)"), "float",
                     advanced=True),
    ),
    "twilio": (
        SettingField("account_sid", N_("Account SID"), required=True),
        SettingField("auth_token", N_("Auth token"), "secret", required=True),
        SENDER,
        SettingField("status_callback_url", N_("Status callback URL"), "url",
                     hint=N_("Our public address for delivery reports; empty asks for none.")),
        SettingField("base_url", N_("API address"), "url", advanced=True),
        TIMEOUT,
    ),
    "infobip": (
        SettingField("base_url", N_("API address"), "url", required=True,
                     hint=N_("Your account's own base URL, e.g. https://xxxxx.api.infobip.com")),
        SettingField("api_key", N_("API key"), "secret", required=True),
        SENDER,
        SettingField("notify_url", N_("Delivery report URL"), "url",
                     hint=N_("Our public address for delivery reports; empty asks for none.")),
        SettingField("webhook_secret", N_("Webhook secret"), "secret", required=True,
                     hint=N_("What Infobip must present on every push to us.")),
        SettingField("webhook_auth", N_("Infobip presents it as"), "choice", advanced=True,
                     choices=(("header", N_("a header")), ("basic", N_("HTTP basic auth")))),
        SettingField("webhook_header", N_("Header name"), advanced=True),
        SettingField("webhook_username", N_("Basic auth user name"), advanced=True),
        SettingField("batch_size", N_("Messages per request"), "int", advanced=True),
        TIMEOUT,
    ),
    "kannel": (
        SettingField("base_url", N_("smsbox address"), "url", required=True),
        SettingField("username", N_("sendsms user name"), required=True),
        SettingField("password", N_("sendsms password"), "secret", required=True),
        SENDER,
        SettingField("smsc", N_("Route through smsc-id"),
                     hint=N_("Empty lets Kannel choose.")),
        SettingField("dlr_url", N_("Delivery report URL"), "url",
                     hint=N_("Our public address for delivery reports; empty asks for none.")),
        SettingField("dlr_secret", N_("Delivery report secret"), "secret",
                     hint=N_("Needed with a delivery report URL: it signs each report's address.")),
        SettingField("dlr_mask", N_("Reports asked for (dlr-mask)"), "int", advanced=True),
        TIMEOUT,
    ),
}  # fmt: skip
KIND_NAMES = {
    "smpp": N_("SMPP"),
    "twilio": N_("Twilio"),
    "infobip": N_("Infobip"),
    "kannel": N_("Kannel"),
    SIMULATOR: N_("The built-in simulator"),
}
KIND_HINTS = {
    "smpp": N_("A bind to a carrier's or aggregator's SMSC over SMPP 3.4."),
    "twilio": N_("Twilio's Programmable Messaging API."),
    "infobip": N_("Infobip's SMS API."),
    "kannel": N_("A Kannel gateway's sendsms interface."),
    SIMULATOR: N_("The SMSC simulator smscast runs, for trying things out: nothing leaves."),
}
KIND_NAMES.update({
    "smtp": N_("SMTP"),
    "whatsapp_cloud": N_("WhatsApp Cloud API"),
    "infobip_whatsapp": N_("Infobip WhatsApp"),
    "webpush": N_("Web push (VAPID)"),
    "infobip_voice": N_("Infobip voice"),
    "twilio_voice": N_("Twilio voice"),
})  # fmt: skip
KIND_HINTS.update({
    "smtp": N_("A mail server that relays your campaign emails (SMTP, STARTTLS or TLS)."),
    "whatsapp_cloud": N_("Meta's WhatsApp Business Cloud API."),
    "infobip_whatsapp": N_("Infobip's WhatsApp API."),
    "webpush": N_("Notifications to browsers that subscribed on your sign-up page."),
    "infobip_voice": N_("Text-to-speech calls through Infobip's voice API."),
    "twilio_voice": N_("Text-to-speech calls through Twilio's voice API."),
})  # fmt: skip
#: Labels of the generated forms' fields, by field name (a name not here is shown as is).
FIELD_LABELS = {
    "host": N_("Host"),
    "port": N_("Port"),
    "from": N_("From address"),
    "from_address": N_("From address"),
    "from_name": N_("Sender's name"),
    "username": N_("User name"),
    "password": N_("Password"),
    "tls": N_("Encryption"),
    "return_path": N_("Return path (bounces)"),
    "reply_to": N_("Reply-to address"),
    "pool_size": N_("Connections kept open"),
    "phone_number_id": N_("Phone number ID"),
    "business_account_id": N_("Business account ID"),
    "access_token": N_("Access token"),
    "app_secret": N_("App secret"),
    "verify_token": N_("Verify token"),
    "base_url": N_("API address"),
    "api_version": N_("API version"),
    "api_key": N_("API key"),
    "sender": N_("Sender"),
    "webhook_secret": N_("Webhook secret"),
    "vapid_private_key": N_("VAPID private key"),
    "vapid_public_key": N_("VAPID public key"),
    "vapid_public": N_("VAPID public key"),
    "subject": N_("Contact for push services (mailto: or https:)"),
    "vapid_subject": N_("Contact for push services (mailto: or https:)"),
    "ttl_s": N_("Time to live (seconds)"),
    "urgency": N_("Urgency"),
    "account_sid": N_("Account SID"),
    "auth_token": N_("Auth token"),
    "callback_base_url": N_("Our public address for callbacks"),
    "status_callback_url": N_("Status callback URL"),
    "notify_url": N_("Delivery report URL"),
    "opt_out_digit": N_("Digit that opts out"),
    "language": N_("Language"),
    "voice_pl": N_("Polish voice"),
    "voice_en": N_("English voice"),
    "voice": N_("Voice"),
    "timeout_s": N_("Request timeout (seconds)"),
    "ring_timeout_s": N_("Ring for at most (seconds)"),
    "max_duration_s": N_("Longest call (seconds)"),
    "batch_size": N_("Messages per request"),
    "tls_ca_file": N_("TLS certificate authority file"),
    "ehlo_name": N_("Name we greet the server with (EHLO)"),
    "webhook_auth": N_("The provider presents it as"),
    "webhook_header": N_("Header name"),
    "webhook_username": N_("Basic auth user name"),
    "endpoint_hosts": N_("Push services we send to"),
    "voice_gender": N_("Voice"),
    "english": N_("English accent"),
    "opt_out_prompt": N_("Say how to opt out after the message"),
    "digit_timeout_s": N_("Wait for the digit (seconds)"),
}
FIELD_HINTS = {
    "return_path": N_("Where bounces go: an address smscast receives mail for."),
    "tls": N_("starttls upgrades the connection; tls connects encrypted (port 465)."),
    "verify_token": N_("What you type in Meta's webhook settings, so it can check our address."),
    "app_secret": N_("Meta signs every callback with it (X-Hub-Signature-256)."),
    "webhook_secret": N_("What the provider must present on every push to us."),
    "vapid_private_key": N_("The key that signs every push; browsers subscribed with its "
                            "public half."),
    "callback_base_url": N_("Where the provider reaches us, e.g. https://sms.example.com."),
    "opt_out_digit": N_("A person who presses it during the call is opted out of calls."),
    "base_url": N_("Empty: the provider's usual address."),
    "endpoint_hosts": N_("Host names separated by commas; * allows any https address."),
}  # fmt: skip
#: Choices of text fields whose values a kind checks itself (their annotation says str).
FIELD_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "tls": (("starttls", N_("STARTTLS")), ("tls", N_("TLS from the start")),
            ("none", N_("none (only on a trusted network)"))),
    "webhook_auth": (("header", N_("a header")), ("basic", N_("HTTP basic auth"))),
    "voice_gender": (("female", N_("female")), ("male", N_("male"))),
    "english": (("en-GB", N_("British")), ("en-US", N_("American"))),
    "urgency": (("very-low", N_("very low")), ("low", N_("low")), ("normal", N_("normal")),
                ("high", N_("high"))),
}  # fmt: skip
ADVANCED_FIELDS = frozenset({
    "base_url", "api_version", "timeout_s", "pool_size", "batch_size", "tls_ca_file",
    "ehlo_name", "webhook_auth", "webhook_header", "webhook_username", "endpoint_hosts",
    "urgency",
})  # fmt: skip


def form_of(kind: str) -> tuple[SettingField, ...]:
    """The form's fields for a kind: hand-written for the first ones, else generated."""
    base = "smpp" if kind == SIMULATOR else kind
    if base in FORMS:
        return FORMS[base]
    if base in HTTP_KINDS:
        return _generated(base)
    return ()


def known_kind(kind: str) -> bool:
    """A kind a connector can be added as (the simulator is SMPP to the built-in SMSC)."""
    return kind == SIMULATOR or kind in KINDS


def channel_name(kind: str) -> str:
    """The msgid of the channel a kind sends on (SMS for the SMS kinds and the simulator)."""
    channel = CHANNEL_OF_KIND.get("smpp" if kind == SIMULATOR else kind, Channel.SMS)
    return CHANNEL_NAMES[channel.value]


def kind_groups() -> list[dict[str, Any]]:
    """The kind picker: each channel with the kinds registered for it, SMS first."""
    groups = []
    for channel, kinds in KINDS_OF_CHANNEL.items():
        present = [kind for kind in kinds if kind in KINDS]
        if channel is Channel.SMS:
            present.append(SIMULATOR)
        if present:
            groups.append({"channel": channel.value, "name": CHANNEL_NAMES[channel.value],
                           "kinds": present})  # fmt: skip
    listed = {kind for group in groups for kind in group["kinds"]}
    others = [kind for kind in KINDS if kind not in listed]
    if others:  # a kind registered without a channel: still addable
        groups.append({"channel": "", "name": N_("Other"), "kinds": others})
    return groups


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


@functools.cache
def _generated(kind: str) -> tuple[SettingField, ...]:
    settings_class = HTTP_KINDS[kind][0]
    try:
        hints = typing.get_type_hints(settings_class)
    except (NameError, TypeError):  # an annotation this module cannot resolve: read as text
        hints = {}
    found = []
    for item in dataclasses.fields(settings_class):
        if item.name in SHARED_FIELDS or not item.init:
            continue
        spec = _field_of(item, hints.get(item.name, item.type))
        if spec is not None:
            found.append(spec)
    return tuple(sorted(found, key=lambda spec: not spec.required))  # what it needs first


def _field_of(item: dataclasses.Field[Any], hint: Any) -> SettingField | None:
    """One generated field, or None for a type a form cannot hold (a mapping)."""
    name = item.name
    required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    common: dict[str, Any] = {
        "label": FIELD_LABELS.get(name, name),
        "required": required,
        "hint": FIELD_HINTS.get(name, ""),
        "advanced": not required and (name in ADVANCED_FIELDS or name.endswith("_s")),
    }
    hint = _without_none(hint)
    origin = typing.get_origin(hint)
    if hint is bool or hint == "bool":
        return SettingField(name, type="bool", **common)
    if origin is typing.Literal:
        values = typing.get_args(hint)
        numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        choices = tuple((str(v), _choice_label(name, str(v))) for v in values)
        return SettingField(name, type="choice", choices=choices, numeric=numeric, **common)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        choices = tuple((str(m.value), _choice_label(name, str(m.value))) for m in hint)
        numeric = all(isinstance(m.value, int) for m in hint)
        return SettingField(name, type="choice", choices=choices, numeric=numeric, **common)
    if hint is int or hint == "int":
        return SettingField(name, type="int", **common)
    if hint is float or hint == "float":
        return SettingField(name, type="float", **common)
    if origin in (tuple, list, frozenset, set):
        return SettingField(name, many=True, **common)
    if origin is dict or hint is dict:
        return None
    if _is_secret(name):
        return SettingField(name, type="secret", **common)
    if name in FIELD_CHOICES:
        return SettingField(name, type="choice", choices=FIELD_CHOICES[name], **common)
    return SettingField(name, type="url" if name.endswith("url") else "text", **common)


def _without_none(hint: Any) -> Any:
    """`str | None` is a str that may be left empty."""
    args = typing.get_args(hint)
    if args and type(None) in args and typing.get_origin(hint) in (typing.Union, _UnionType):
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


_UnionType = type(int | str)


def _choice_label(name: str, value: str) -> str:
    labels = dict(FIELD_CHOICES.get(name, ()))
    return labels.get(value, value)


def _is_secret(name: str) -> bool:
    """A secret as the engine redacts it: write-only in the form, "set" on the page."""
    return bool(redacted_settings({name: "x"})[name] == SECRET_SHOWN)
