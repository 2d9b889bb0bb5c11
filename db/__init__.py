"""The database: typed SQLAlchemy models and the engine/session set-up."""
