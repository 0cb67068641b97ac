-- database_size: the current database (informational). Parameters: none.
SELECT current_database() AS database, pg_database_size(current_database()) AS bytes
