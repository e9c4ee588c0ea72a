"""smscast: self-hosted two-way SMS campaigns."""

__version__ = "0.1.0"
