"""Pipelines in the SageMaker SDK's shape (``sagemaker.workflow``): parameters, steps, conditions and
property references build SageMaker's definition document; ``Pipeline`` upserts and starts it."""
