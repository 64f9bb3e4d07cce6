-- title: Time from created to delivered
-- description: Orders delivered in the window, by region: how long they took from creation to delivery (minutes), from the current state of each order (orders_current).
-- chart: bar x=region y=avg_minutes
SELECT
  region,
  count(*) AS delivered_orders,
  round(avg(date_diff('second', created_at, updated_at)) / 60.0, 1) AS avg_minutes,
  round(min(date_diff('second', created_at, updated_at)) / 60.0, 1) AS min_minutes,
  round(max(date_diff('second', created_at, updated_at)) / 60.0, 1) AS max_minutes
FROM {{current_view}}
WHERE status = 'DELIVERED'
  AND updated_at >= TIMESTAMP '{{window_start}}'
  AND updated_at < TIMESTAMP '{{window_end}}'
GROUP BY region
ORDER BY region
