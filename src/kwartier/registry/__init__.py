"""The registry: parties, access points, meters and their validity periods (SQLAlchemy)."""
