"""SageMaker's framework classes, one module per framework: its Estimator, Model and Predictor."""
