-- Input that could not be processed, with the reason and the raw bytes. Keyed by its source
-- position so a redelivered poison message is stored once.

CREATE TABLE IF NOT EXISTS {database}.dead_letters
(
    source_topic     LowCardinality(String),
    source_partition Int32,
    source_offset    Int64,
    venue            LowCardinality(String),
    reason           LowCardinality(String),
    detail           String,
    raw_key          String,
    raw_value        String,
    failed_at        DateTime64(3, 'UTC'),
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset)
SETTINGS non_replicated_deduplication_window = 1000;
