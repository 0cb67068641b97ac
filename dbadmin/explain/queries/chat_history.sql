-- Chat history of one session, oldest first (reopening a conversation).
-- param session_id: uuid = SELECT c.session_id FROM conversations c JOIN messages m ON m.conversation_id = c.id GROUP BY c.session_id ORDER BY count(*) DESC, c.session_id LIMIT 1
-- param limit: integer = 200
SELECT m.id, m.role, m.content, m.citations, m.created_at
FROM conversations AS c
JOIN messages AS m ON m.conversation_id = c.id
WHERE c.session_id = :session_id
ORDER BY m.created_at
LIMIT :limit
