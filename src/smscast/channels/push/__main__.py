"""`python -m smscast.channels.push --generate-keys`: a VAPID key pair for a webpush connector.

Prints the two settings and the `smscast connectors add` line that uses them. The
private key is printed once and kept nowhere else: store it as the connector's
setting (it is never shown again) or in your secrets store.
"""

from __future__ import annotations

import sys

from smscast.channels.push.vapid import generate_vapid_keys

USAGE = "usage: python -m smscast.channels.push --generate-keys [mailto:you@example.com]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--generate-keys" or len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    subject = argv[1] if len(argv) == 2 else "mailto:you@example.com"
    keys = generate_vapid_keys()
    print(f"vapid_private_key={keys.private}")
    print(f"vapid_public={keys.public}")
    print()
    print(
        "smscast connectors add web --kind webpush "
        f"--setting vapid_private_key={keys.private} --setting vapid_public={keys.public} "
        f"--setting subject={subject}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
