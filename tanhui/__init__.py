"""tanhui."""
