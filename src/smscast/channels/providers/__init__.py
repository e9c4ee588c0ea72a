"""HTTP carrier connectors: Twilio, Infobip and Kannel, one module each.

Each module holds the connector (sending) and the pure functions the API calls for
that carrier's callbacks (verification and parsing); `http_base` holds what their
sending has in common and `webhooks` what their callbacks have in common.
"""
