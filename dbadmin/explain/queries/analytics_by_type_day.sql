-- Analytics event counts by type and day over the last N days (the admin dashboard).
-- param days: integer = 30
SELECT a.event_type, date_trunc('day', a."timestamp") AS day, count(*) AS events
FROM analytics AS a
WHERE a."timestamp" >= now() - make_interval(days => :days)
GROUP BY a.event_type, date_trunc('day', a."timestamp")
ORDER BY day, a.event_type
