-- title: Orders and revenue by hour and region
-- description: Orders created in the window, by hour of creation and region, from the latest state of each order as of the window end. Cancelled orders are counted but earn no revenue.
-- chart: bar x=hour y=revenue series=region
WITH latest AS (
  SELECT
    order_id, region, status, amount, created_at, op,
    row_number() OVER (PARTITION BY order_id ORDER BY version DESC, change_time DESC) AS rn
  FROM {{cdc_table}}
  WHERE dt BETWEEN '{{dt_start}}' AND '{{dt_end}}'
    AND change_time < TIMESTAMP '{{window_end}}'
)
SELECT
  date_trunc('hour', created_at) AS hour,
  region,
  count(*) AS orders,
  round(sum(CASE WHEN status <> 'CANCELLED' THEN amount ELSE 0 END), 2) AS revenue,
  sum(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled
FROM latest
WHERE rn = 1
  AND op <> 'REMOVE'
  AND created_at >= TIMESTAMP '{{window_start}}'
  AND created_at < TIMESTAMP '{{window_end}}'
GROUP BY 1, 2
ORDER BY 1, 2
