-- Open tasks past their due date across all users, most overdue first (reminder job).
-- param limit: integer = 100
SELECT t.id, t.user_id, t.title, t.due_date
FROM tasks AS t
WHERE NOT t.completed
  AND t.due_date < now()
ORDER BY t.due_date
LIMIT :limit
