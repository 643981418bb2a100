"""Data access: accounts, data-access contracts, API clients and tokens, mandates, the access log, the
user port, export jobs and webhooks (issue 6, seed 000 §6–7, seed 001 art. 3.1.58 and 3.1.61)."""
