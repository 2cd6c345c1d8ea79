"""`pipeline bench`: the pipeline's speed, latency and memory beside its peers, in one run.

flow.py generates the seeded raw flow and its expected result; peers.py runs the bare
consumer and the minimal folds (aiokafka, faust-streaming, Quix Streams) on it; endtoend.py
runs the real process and sink roles in two processes; report.py writes and compares
`bench-results.json`; run.py ties them together on the embedded stack.
"""
