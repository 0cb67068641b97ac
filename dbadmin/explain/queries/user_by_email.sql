-- Log-in: one user by e-mail address.
-- param email: text = SELECT email FROM users ORDER BY created_at, id LIMIT 1
SELECT u.id, u.name, u.password_hash, u.language_preference, u.theme_preference
FROM users AS u
WHERE u.email = :email
