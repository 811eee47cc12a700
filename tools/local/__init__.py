"""The embedded local stack: the AWS emulator, the API, the scheduler, the queue poller,
the static page server and the outbox, in one foreground process (``make run``)."""
