"""The top floor: the `tanhui` command line and the process wiring (which services run where,
the data directory's ownership, start-up recovery). Product packages never import it."""
