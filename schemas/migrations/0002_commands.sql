-- Cancel commands as received, and one result per command (the latest version wins).

CREATE TABLE IF NOT EXISTS {database}.cancel_commands
(
    command_id       String,
    venue            LowCardinality(String),
    account          LowCardinality(Nullable(String)),
    symbol           Nullable(String),
    order_id         Nullable(String),
    qty              Nullable(Decimal(38, 18)),
    issued_by        LowCardinality(String),
    issued_at        DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    accepted         UInt8,
    reject_reason    Nullable(String),
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (command_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.command_results
(
    command_id       String,
    venue            LowCardinality(String),
    account          LowCardinality(Nullable(String)),
    status           LowCardinality(String),
    final            UInt8,
    reason           Nullable(String),
    outcomes         String,
    orders_targeted  UInt32,
    orders_canceled  UInt32,
    started_at       DateTime64(3, 'UTC'),
    finished_at      DateTime64(3, 'UTC'),
    version          UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (command_id)
SETTINGS non_replicated_deduplication_window = 1000;
