"""Database layer: models, portable column types, engine and read path."""
