-- orders.avg_fill_price_source (issue 14): where the row's avg_fill_price comes from.
-- 'fills' = the VWAP of the order's own fills, equal to sum(qty * price) / sum(qty) over its
-- rows in trading.fills (the same Decimal computation, to the last digit); 'venue' = the
-- venue's cumulative figure (e.g. Binance Z / z, a REST poll's average), used while some
-- filled quantity has no fill seen; NULL while nothing is filled, and in rows written before
-- this column existed.
ALTER TABLE {database}.orders
    ADD COLUMN IF NOT EXISTS avg_fill_price_source LowCardinality(Nullable(String))
    AFTER avg_fill_price;
