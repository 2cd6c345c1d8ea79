-- daily_pnl, redefined (issue 16): 0004's version multiplied two Decimal(38, 18) into a
-- Decimal(38, 36), which overflows silently above 99.99 (traded_notional was wrong in every
-- row, often negative), and it had no PnL column although its name promised one. Now: one row
-- per day (of the fill's trade time, UTC), venue, account and symbol, with what was traded and
-- what it realized, from the same average-cost fold as realized_pnl_daily (whose sum over days
-- equals positions.realized_pnl). Products are computed in Decimal256 and narrowed back to
-- Decimal(38, 18), as fills_daily does. Voids (qty 0) are excluded; fills are read FINAL.
-- PnL is in the symbol's quote currency; fees are per asset, and fees_in_quote / net_pnl
-- count only the fees paid in the quote currency (a fill without fee_asset pays in it).
CREATE OR REPLACE VIEW {database}.daily_pnl AS
SELECT toDate(f.1) AS day, venue, account, symbol,
       splitByChar(':', splitByChar('/', symbol)[2])[1] AS quote,
       count() AS fills,
       toDecimal128(sum(f.6), 18) AS traded_qty,
       toDecimal128(sumIf(f.6, f.4 = 'buy'), 18) AS bought_qty,
       toDecimal128(sumIf(f.6, f.4 = 'sell'), 18) AS sold_qty,
       toDecimal128(sum(f.5 * f.6), 18) AS traded_notional,
       toDecimal128(sum(r), 18) AS realized_pnl,
       sumMap(map(ifNull(f.8, quote), f.7)) AS fees,
       toDecimal128(sumIf(f.7, ifNull(f.8, quote) = quote), 18) AS fees_in_quote,
       toDecimal128(sum(r) - sumIf(f.7, ifNull(f.8, quote) = quote), 18) AS net_pnl
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
