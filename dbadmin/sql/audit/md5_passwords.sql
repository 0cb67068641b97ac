-- Login roles whose stored password is still an MD5 hash (pg_authid: superusers only).
SELECT rolname AS role
FROM pg_authid
WHERE rolcanlogin AND rolpassword LIKE 'md5%%'
ORDER BY rolname
