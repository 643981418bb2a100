"""Estimation: values for missing and rejected intervals, always marked as estimates."""
