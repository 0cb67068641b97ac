-- Tasks of one user by completion status, next due first (the task list screen).
-- param user_id: uuid = SELECT user_id FROM tasks GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1
-- param completed: boolean = false
-- param limit: integer = 50
SELECT t.id, t.title, t.priority, t.due_date, t.completed
FROM tasks AS t
WHERE t.user_id = :user_id
  AND t.completed = :completed
ORDER BY t.due_date NULLS LAST, t.created_at DESC
LIMIT :limit
