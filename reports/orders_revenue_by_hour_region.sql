-- title: Orders and revenue by hour and region
-- description: Orders created in the window, by hour of creation and region, from the current state of each order (orders_current). Cancelled orders are counted but earn no revenue.
-- chart: bar x=hour y=revenue series=region
SELECT
  date_trunc('hour', created_at) AS hour,
  region,
  count(*) AS orders,
  round(sum(CASE WHEN status <> 'CANCELLED' THEN amount ELSE 0 END), 2) AS revenue,
  sum(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled
FROM {{current_view}}
WHERE created_at >= TIMESTAMP '{{window_start}}'
  AND created_at < TIMESTAMP '{{window_end}}'
GROUP BY 1, 2
ORDER BY 1, 2
