"""Validation: the rules a captured value must pass, each with a code and a reason."""
