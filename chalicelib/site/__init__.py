"""The public status page: a snapshot of state, rendered to files, published to S3."""
