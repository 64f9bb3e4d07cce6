-- title: Time from created to delivered
-- description: Orders delivered in the window, by region: how long they took from creation to delivery (minutes).
-- chart: bar x=region y=avg_minutes
WITH latest AS (
  SELECT
    order_id, region, status, created_at, updated_at, op,
    row_number() OVER (PARTITION BY order_id ORDER BY version DESC, change_time DESC) AS rn
  FROM {{cdc_table}}
  WHERE dt BETWEEN '{{dt_start}}' AND '{{dt_end}}'
    AND change_time < TIMESTAMP '{{window_end}}'
)
SELECT
  region,
  count(*) AS delivered_orders,
  round(avg(date_diff('second', created_at, updated_at)) / 60.0, 1) AS avg_minutes,
  round(min(date_diff('second', created_at, updated_at)) / 60.0, 1) AS min_minutes,
  round(max(date_diff('second', created_at, updated_at)) / 60.0, 1) AS max_minutes
FROM latest
WHERE rn = 1
  AND op <> 'REMOVE'
  AND status = 'DELIVERED'
  AND updated_at >= TIMESTAMP '{{window_start}}'
  AND updated_at < TIMESTAMP '{{window_end}}'
GROUP BY region
ORDER BY region
