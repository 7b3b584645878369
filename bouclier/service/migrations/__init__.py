"""Alembic migrations of the registry, shipped inside the package (see bouclier.service.store.upgrade)."""
