-- A user's progress through the course: every chapter with completion and quiz score.
-- param user_id: uuid = SELECT user_id FROM chapter_progress GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1
SELECT ch.slug, ch.title, ch.order_index, p.completed_at, p.quiz_score
FROM chapters AS ch
LEFT JOIN chapter_progress AS p ON p.chapter_id = ch.id AND p.user_id = :user_id
ORDER BY ch.module_id, ch.order_index
