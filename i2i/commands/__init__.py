"""Console commands (i2i-train, i2i-translate, ...): each module has ``main(argv) -> exit code``."""
