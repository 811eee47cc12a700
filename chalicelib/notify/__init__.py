"""Subscribers and notifications: sign-up, fan-out, exactly-once delivery, feedback.

The story of one notification:

1. A person signs up on the page (``signup``): the destination is checked and normalised
   (``destinations``), the sign-up counted against per-address and per-destination limits
   (``limits``), and a confirmation (email link, or SMS code) is the only thing sent.
2. Someone records a ``NotificationEvent`` (incidents, maintenance, notices, playbooks,
   probes) and ``events``, the one producer of queue messages, puts one
   ``{"type": "notification"}`` message on the notification queue.
3. The queue consumer (``delivery``) fans it out: ``planning`` picks the confirmed,
   unsuppressed subscribers of the affected components and cuts them into recipient
   batches, which ``events`` puts back onto the same queue as ``{"type": "deliver"}`` messages.
4. For each recipient of a batch the consumer claims (notification, subscriber) with a
   conditional write, paces itself with a token bucket, renders and sends the message
   through its channel (``channels``: email, SMS, webhook, Slack, Teams, Discord, Telegram,
   one module each; ``content`` and ``senders`` do the shared work), then records the
   outcome on the claim. A redelivered message finds the claims and sends nothing twice.
5. SES bounces and complaints (``feedback``) suppress addresses; carrier opt-outs (STOP)
   suppress phone numbers.

Nothing here imports boto3 except ``senders``; ``service`` and ``events`` get clients from
``chalicelib.aws``; the table goes through ``chalicelib.store``.
"""
