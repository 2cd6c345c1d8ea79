-- Analyst views, second set: fills per venue/symbol/day, realized PnL and fees per
-- account/symbol/day, and execution quality with fill latency. Fills with qty 0 are voids
-- (retracted derived fills) and are excluded everywhere; replacing tables are read FINAL.

CREATE VIEW IF NOT EXISTS {database}.fills_daily AS
SELECT toDate(trade_time) AS day, venue, symbol,
       count() AS fills,
       uniqExact(account, order_id) AS orders,
       sum(qty) AS traded_qty,
       sumIf(qty, side = 'buy') AS bought_qty,
       sumIf(qty, side = 'sell') AS sold_qty,
       toDecimal128(sum(toDecimal256(price, 18) * qty), 18) AS traded_notional,
       round(countIf(liquidity = 'maker') / count(), 6) AS maker_share,
       min(trade_time) AS first_trade_at,
       max(trade_time) AS last_trade_at
FROM {database}.fills FINAL
WHERE qty > 0
GROUP BY day, venue, symbol;

-- Realized PnL attributed to the day of the fill that realized it. The average-cost fold of
-- pipeline/domain/positions.py, in SQL: per (venue, account, symbol), the fills sorted by
-- (trade_time, trade_id, order_id) are folded with arrayFold into (qty, avg price, realized
-- per fill); a reducing fill realizes (price - avg) * qty * sign, a fill through zero closes
-- the whole position and reopens the rest at its price. The sum over all days equals
-- positions.realized_pnl. Realized PnL is in the symbol's quote currency, fees per asset (a
-- fill without fee_asset pays in the quote currency). Each query folds the whole history of
-- the positions it reads: filter on venue/account/symbol for large histories.
CREATE VIEW IF NOT EXISTS {database}.realized_pnl_daily AS
SELECT toDate(f.1) AS day, venue, account, symbol,
       splitByChar(':', splitByChar('/', symbol)[2])[1] AS quote,
       count() AS fills,
       toDecimal128(sum(f.6), 18) AS traded_qty,
       toDecimal128(sum(r), 18) AS realized_pnl,
       sumMap(map(ifNull(f.8, quote), f.7)) AS fees,
       toDecimal128(sumIf(f.7, ifNull(f.8, quote) = quote), 18) AS fees_in_quote
FROM (
    SELECT venue, account, symbol,
           arraySort(x -> (x.1, x.2, x.3), groupArray((trade_time, trade_id, order_id, side,
               toDecimal256(price, 18), toDecimal256(qty, 18), fee, fee_asset))) AS fs,
           arrayFold((acc, x) -> (
               toDecimal256(acc.1 + if(x.4 = 'buy', x.6, -x.6), 18),
               toDecimal256(multiIf(
                   acc.1 = 0 OR (acc.1 > 0) = (x.4 = 'buy'),
                       (acc.2 * abs(acc.1) + x.5 * x.6) / abs(acc.1 + if(x.4 = 'buy', x.6, -x.6)),
                   x.6 < abs(acc.1), acc.2,
                   x.6 = abs(acc.1), 0,
                   x.5), 18),
               arrayPushBack(acc.3, toDecimal256(multiIf(
                   acc.1 = 0 OR (acc.1 > 0) = (x.4 = 'buy'), 0,
                   x.6 <= abs(acc.1), if(acc.1 > 0, (x.5 - acc.2) * x.6, (acc.2 - x.5) * x.6),
                   (x.5 - acc.2) * acc.1), 18))),
               fs, (toDecimal256(0, 18), toDecimal256(0, 18), CAST([], 'Array(Decimal256(18))'))
           ).3 AS rs
    FROM {database}.fills FINAL
    WHERE qty > 0
    GROUP BY venue, account, symbol
)
ARRAY JOIN fs AS f, rs AS r
GROUP BY day, venue, account, symbol;

-- Execution quality per venue and symbol (redefines 0004's view with the same columns first):
-- average fill latency = first fill's trade time - the order's created_at, over the orders
-- that filled at all.
CREATE OR REPLACE VIEW {database}.execution_quality AS
WITH first_fills AS (
    SELECT venue, account, order_id, toNullable(min(trade_time)) AS first_fill_at
    FROM {database}.fills FINAL
    WHERE qty > 0
    GROUP BY venue, account, order_id
)
SELECT o.venue AS venue, o.symbol AS symbol,
       count() AS orders,
       countIf(o.status = 'filled') AS filled,
       countIf(o.filled_qty > 0 AND o.status != 'filled') AS partially_filled,
       countIf(o.status = 'canceled') AS canceled,
       round(countIf(o.status = 'filled') / count(), 6) AS fill_rate,
       round(countIf(o.filled_qty > 0 AND o.status != 'filled') / count(), 6) AS partial_fill_rate,
       round(countIf(o.status = 'canceled') / count(), 6) AS cancel_rate,
       countIf(o.status = 'rejected') AS rejected,
       countIf(o.status = 'expired') AS expired,
       countIf(f.first_fill_at IS NOT NULL) AS orders_with_fills,
       round(avgIf(greatest(dateDiff('millisecond', o.created_at, f.first_fill_at), 0) / 1000,
                   f.first_fill_at IS NOT NULL), 3) AS avg_fill_latency_seconds,
       round(quantileIf(0.5)(greatest(dateDiff('millisecond', o.created_at, f.first_fill_at), 0)
                   / 1000, f.first_fill_at IS NOT NULL), 3) AS median_fill_latency_seconds
FROM (SELECT * FROM {database}.orders FINAL) AS o
LEFT JOIN first_fills AS f
    ON o.venue = f.venue AND o.account = f.account AND o.order_id = f.order_id
GROUP BY o.venue, o.symbol;
