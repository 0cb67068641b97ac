"""pg_dump/pg_restore backups: binary selection, runner, manifests, verify, retention."""
