"""Event-sourced pipeline for exchange orders and trades.

Raw venue events flow from ingestors through Kafka into stream processors that deduplicate,
order by event time, fold them into canonical order state and average-cost positions, and
write the results to ClickHouse and to compacted topics.
"""

__version__ = "0.1.0"

from pipeline import compiled as _compiled

_compiled.install()  # before any hot module is imported: see pipeline/compiled.py
