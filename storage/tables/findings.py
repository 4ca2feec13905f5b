"""Tables for findings (see the issue that owns them). Each table here needs its migration."""
