-- title: Order status funnel
-- description: Of the orders created in the window, how many reached each stage, from the current state of each order (orders_current). An order cancelled after payment counts as cancelled, not as paid.
-- chart: bar x=stage y=orders
WITH current_orders AS (
  SELECT status
  FROM {{current_view}}
  WHERE created_at >= TIMESTAMP '{{window_start}}'
    AND created_at < TIMESTAMP '{{window_end}}'
),
stages AS (
  SELECT 1 AS step, 'created' AS stage, count(*) AS orders FROM current_orders
  UNION ALL
  SELECT 2, 'paid', sum(CASE WHEN status IN ('PAID', 'SHIPPED', 'DELIVERED') THEN 1 ELSE 0 END) FROM current_orders
  UNION ALL
  SELECT 3, 'shipped', sum(CASE WHEN status IN ('SHIPPED', 'DELIVERED') THEN 1 ELSE 0 END) FROM current_orders
  UNION ALL
  SELECT 4, 'delivered', sum(CASE WHEN status = 'DELIVERED' THEN 1 ELSE 0 END) FROM current_orders
  UNION ALL
  SELECT 5, 'cancelled', sum(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) FROM current_orders
)
SELECT
  s.step,
  s.stage,
  coalesce(s.orders, 0) AS orders,
  CASE WHEN t.total = 0 THEN 0.0 ELSE round(100.0 * coalesce(s.orders, 0) / t.total, 1) END AS pct_of_created
FROM stages s
CROSS JOIN (SELECT count(*) AS total FROM current_orders) t
ORDER BY s.step
