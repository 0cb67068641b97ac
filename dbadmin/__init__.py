"""dbadmin: administer the PostgreSQL/Neon database of the application."""

__version__ = "0.1.0"
