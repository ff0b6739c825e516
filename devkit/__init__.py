"""Development fixtures, apart from the product: the development consortium on the embedded
chain (roster), chain fixture builders (scenario), the scripted demo, throw-away local
registries for benchmarks, and the deterministic sample monitoring data. Only the command
line, benchmarks and tests import it; no product module does."""
