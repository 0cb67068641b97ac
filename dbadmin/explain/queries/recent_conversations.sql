-- A user's most recent conversations with their message counts (the sidebar).
-- param user_id: uuid = SELECT user_id FROM conversations WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1
-- param limit: integer = 20
SELECT c.id, c.session_id, c.last_activity, count(m.id) AS messages
FROM conversations AS c
LEFT JOIN messages AS m ON m.conversation_id = c.id
WHERE c.user_id = :user_id
GROUP BY c.id
ORDER BY c.last_activity DESC
LIMIT :limit
