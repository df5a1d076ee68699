"""The Python SDK: SageMaker's names (Session, Estimator, PyTorch, …) over Kiln's HTTP API."""
