"""The platform's shell: the `tx` command line, the store set-up, `make demo` and `make run`."""
