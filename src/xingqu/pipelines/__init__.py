"""The named matching tasks, each ending in the rules every output obeys (governance first)."""
