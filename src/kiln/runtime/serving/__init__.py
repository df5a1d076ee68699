"""An endpoint instance: loads a model and answers SageMaker's ``/ping`` and ``/invocations``."""
