"""Tables for digests (see the issue that owns them). Each table here needs its migration."""
