"""A training host: SageMaker's /opt/ml contract around the user's script.

Run as ``python -m kiln.runtime.training HOST_SPEC.json``.
"""
