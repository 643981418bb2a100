"""Exposure: data leaving the hub for grid users and market parties."""
