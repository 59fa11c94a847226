"""Keys and quotas in AWS API Gateway usage plans: the key backend, its boto3 client and the plan sync."""
