"""The meter-data store: pseudonymised, append-only Parquet with "as known at" reads."""
