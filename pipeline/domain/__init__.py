"""The pure domain core: canonical events, the order state machine, positions and PnL.

Imports only the standard library (a test enforces it). Time is passed in, never read here.
"""
