"""Stream processing: raw topics -> canonical events, order state, fills and positions.

`processor` holds the per-partition logic with no I/O (decode, normalize, dedupe, order by
event time, fold); `process_worker` and `sink_worker` are the thin Kafka shells around it and
around the ClickHouse writer; `replay` drives the same code from a file or from `raw.*`.
"""
