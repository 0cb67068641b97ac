-- The hash new passwords get (a per-database or per-role setting may override the server's).
SELECT current_setting('password_encryption') AS value
