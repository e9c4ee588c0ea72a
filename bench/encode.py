"""Benchmark of the message core: classify + split texts, and render + encode + count.

Usage: python bench/encode.py [--n N]
The last line is `RESULT texts_per_s=<n> render_per_s=<n>`: per CPU-second of this one
single-threaded process (process_time), so other work on a shared machine does not count.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import random
import time

from smscast.core.cost import Recipient, link_stand_in
from smscast.core.parts import split_text, wire_parts
from smscast.core.templates import compile_template, render

WORDS = (
    "sale", "summer", "new", "offer", "today", "only", "shop", "now", "code", "free",
    "delivery", "order", "your", "favourite", "store", "off", "discount", "week", "members",
    "club", "points", "voucher", "ends", "soon",
)  # fmt: skip
POLISH = (
    "wyprzedaż", "zniżka", "dziś", "sklep", "kod", "rabat", "tydzień", "punkty", "ważny",
    "tylko", "już",
)  # fmt: skip
NAMES = ["Anna", "Ola", "Jan", "Maximilian", "Zoë", "Łucja", "Tom", "Émilie", "Kasia", "Bob"]


def typical_texts(count: int, rng: random.Random) -> list[str]:
    """One to three part texts: mostly plain GSM, some with € or accents, some UCS-2."""
    texts = []
    for _ in range(count):
        kind = rng.random()
        words = POLISH if kind > 0.8 else WORDS
        length = rng.choice(
            (40, 60, 100, 150, 190) if kind > 0.8 else (60, 120, 150, 200, 280, 400)
        )
        parts = []
        while sum(len(w) + 1 for w in parts) < length:
            parts.append(rng.choice(words))
        text = " ".join(parts)
        if 0.6 < kind <= 0.7:
            text += " only 5€ {today}!"
        elif 0.7 < kind <= 0.8:
            text = "Grüße " + text + " à bientôt"
        elif kind > 0.95:
            text += " 🎉"
        while split_text(text).info.parts > 3:  # keep to the one-to-three part texts asked for
            text = text.rsplit(" ", 1)[0]
        texts.append(text)
    return texts


def bench_texts(texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        split_text(text)
    return len(texts) / (time.process_time() - start)


def bench_render(count: int, rng: random.Random) -> float:
    template = compile_template(
        'Hi {{ first_name | default("there") }}! Summer sale: 20% off everything with code '
        "{{ coupon }} until Sunday. Shop now: {{ link('https://shop.example/summer') }}",
        known={"first_name"},
    )
    link = link_stand_in("https://s.example", 7)
    recipients = [
        Recipient(str(i), {"first_name": rng.choice(NAMES), "coupon": f"SUM{i:06d}"})
        for i in range(count)
    ]
    start = time.process_time()
    for i, recipient in enumerate(recipients):
        text = render(template, recipient.values, language=recipient.language, link=link)
        wire_parts(text, reference=i)  # encode; the part count is len() of this
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="texts (and recipients) to time")
    args = parser.parse_args()
    rng = random.Random(23038)
    texts = typical_texts(args.n, rng)
    parts = [split_text(t).info.parts for t in texts]
    print(f"texts: {args.n}, with 1/2/3 parts: {[parts.count(k) for k in (1, 2, 3)]}")
    bench_texts(texts[: min(len(texts), 5000)])  # warm caches
    texts_per_s = max(bench_texts(texts) for _ in range(3))
    render_per_s = max(bench_render(args.n, rng) for _ in range(3))
    print(f"RESULT texts_per_s={texts_per_s:.0f} render_per_s={render_per_s:.0f}")


if __name__ == "__main__":
    main()
