"""The running system: use-case functions that own their transactions, and workers."""
