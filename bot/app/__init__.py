"""The application shell: settings, the composition root (runtime), the web server,
the Bolt app and the `webcare` command line."""
