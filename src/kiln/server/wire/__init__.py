"""The AWS wire protocols, translated to Kiln's services (the ``s3`` package serves S3)."""
