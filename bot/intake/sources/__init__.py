"""Sources that are polled: each yields normalised mentions into the same ingest as the webhook."""
