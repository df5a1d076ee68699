"""Pipelines: a control-plane resource whose executions walk a graph of steps, each step an ordinary
job (training, processing, tuning) or model created through the existing services."""
