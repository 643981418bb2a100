"""The API for energy service providers and households' own tools: ``/api/v1`` (issue 6, seed 000 §7)."""
