"""The platform shell: settings, the store set-up, and the `tx` command line."""
