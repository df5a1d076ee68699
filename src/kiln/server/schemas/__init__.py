"""Request and public response shapes of the REST API (SageMaker's field names)."""
