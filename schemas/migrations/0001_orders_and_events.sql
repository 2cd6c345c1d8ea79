-- Canonical order state and the canonical event log.
-- Every table of the MergeTree family sets non_replicated_deduplication_window so that a batch
-- re-inserted with the same insert_deduplication_token (derived from source offsets) is a
-- no-op (PITFALLS.md §11). Replacing tables keep the highest `version` per key; readers use
-- FINAL (or argMax) to see one row per key. Fills are keyed by trade id *and* order id: a
-- self-trade reports one trade id on two orders of the same account, two executions. A fill
-- with qty 0 is a void: a derived fill (venues reporting only cumulative quantities) that a
-- later, real report replaced. An order event's version is the source offset of the raw record
-- it was emitted for: when one venue event arrives twice with different times (two polls of
-- one state), the copy the order state keeps (the earliest) is the one emitted last.

CREATE TABLE IF NOT EXISTS {database}.orders
(
    venue            LowCardinality(String),
    account          LowCardinality(String),
    order_id         String,
    client_order_id  Nullable(String),
    symbol           LowCardinality(String),
    venue_symbol     LowCardinality(String),
    side             LowCardinality(String),
    order_type       LowCardinality(String),
    status           LowCardinality(String),
    venue_status     LowCardinality(String),
    cancel_reason    LowCardinality(Nullable(String)),
    time_in_force    LowCardinality(Nullable(String)),
    qty              Decimal(38, 18),
    price            Nullable(Decimal(38, 18)),
    stop_price       Nullable(Decimal(38, 18)),
    quote_qty        Nullable(Decimal(38, 18)),
    filled_qty       Decimal(38, 18),
    remaining_qty    Decimal(38, 18),
    canceled_qty     Decimal(38, 18),
    avg_fill_price   Nullable(Decimal(38, 18)),
    fee              Decimal(38, 18),
    fee_asset        LowCardinality(Nullable(String)),
    created_at       DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    version          UInt64,
    last_event_id    String,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, account, order_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.order_events
(
    event_id         String,
    venue            LowCardinality(String),
    account          LowCardinality(String),
    order_id         String,
    client_order_id  Nullable(String),
    symbol           LowCardinality(String),
    venue_symbol     LowCardinality(String),
    side             LowCardinality(String),
    order_type       LowCardinality(String),
    status           LowCardinality(String),
    venue_status     LowCardinality(String),
    cancel_reason    LowCardinality(Nullable(String)),
    qty              Nullable(Decimal(38, 18)),
    price            Nullable(Decimal(38, 18)),
    filled_qty       Nullable(Decimal(38, 18)),
    canceled_qty     Nullable(Decimal(38, 18)),
    avg_fill_price   Nullable(Decimal(38, 18)),
    fee              Nullable(Decimal(38, 18)),
    fee_asset        LowCardinality(Nullable(String)),
    trade_id         Nullable(String),
    fill_price       Nullable(Decimal(38, 18)),
    fill_qty         Nullable(Decimal(38, 18)),
    sequence         Nullable(Int64),
    is_snapshot      UInt8,
    late             UInt8 DEFAULT 0,
    event_time       DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    version          UInt64 DEFAULT 0,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, account, order_id, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.fills
(
    venue            LowCardinality(String),
    account          LowCardinality(String),
    symbol           LowCardinality(String),
    venue_symbol     LowCardinality(String),
    trade_id         String,
    order_id         String,
    side             LowCardinality(String),
    price            Decimal(38, 18),
    qty              Decimal(38, 18),
    fee              Decimal(38, 18),
    fee_asset        LowCardinality(Nullable(String)),
    liquidity        LowCardinality(String),
    trade_time       DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    version          UInt64 DEFAULT 1,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, account, symbol, trade_id, order_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.positions
(
    venue            LowCardinality(String),
    account          LowCardinality(String),
    symbol           LowCardinality(String),
    qty              Decimal(38, 18),
    avg_price        Decimal(38, 18),
    realized_pnl     Decimal(38, 18),
    fees             Map(String, Decimal(38, 18)),
    fill_count       UInt64,
    updated_at       DateTime64(3, 'UTC'),
    version          UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, account, symbol)
SETTINGS non_replicated_deduplication_window = 1000;
