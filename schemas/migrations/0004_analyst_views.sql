-- Analyst views over the replacing tables (FINAL gives one row per key).

CREATE VIEW IF NOT EXISTS {database}.open_orders AS
SELECT venue, account, order_id, client_order_id, symbol, side, order_type, status,
       qty, price, filled_qty, remaining_qty, created_at, updated_at
FROM {database}.orders FINAL
WHERE status IN ('open', 'partially_filled', 'pending_cancel', 'untriggered');

CREATE VIEW IF NOT EXISTS {database}.daily_pnl AS
WITH fills_final AS (SELECT * FROM {database}.fills FINAL WHERE qty > 0)
SELECT toDate(trade_time) AS day, venue, account, symbol,
       count() AS fills,
       sum(qty) AS traded_qty,
       sum(price * qty) AS traded_notional,
       sum(fee) AS fees
FROM fills_final
GROUP BY day, venue, account, symbol;

CREATE VIEW IF NOT EXISTS {database}.execution_quality AS
SELECT venue, symbol,
       count() AS orders,
       countIf(status = 'filled') AS filled,
       countIf(filled_qty > 0 AND status != 'filled') AS partially_filled,
       countIf(status = 'canceled') AS canceled,
       round(countIf(status = 'filled') / count(), 6) AS fill_rate,
       round(countIf(filled_qty > 0 AND status != 'filled') / count(), 6) AS partial_fill_rate,
       round(countIf(status = 'canceled') / count(), 6) AS cancel_rate
FROM {database}.orders FINAL
GROUP BY venue, symbol;

CREATE VIEW IF NOT EXISTS {database}.dead_letters_by_reason AS
SELECT venue, reason, count() AS letters, max(failed_at) AS last_failed_at
FROM {database}.dead_letters FINAL
GROUP BY venue, reason;
