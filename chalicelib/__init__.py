"""Beacon: a brand status page and subscriber notifier that runs on AWS Lambda."""
