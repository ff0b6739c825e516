"""Oracle core: monitoring data in, canonical records, a Merkle root and a quantity out.

Pure Python, no chain: nodes, attestation and the API build on these modules.

- schemas, fields, metrics   the record kinds (strict pydantic), field parsers, units
- loaders                     JSON/CSV files → raw records, never failing on a bad row
- readings, records           validation with stable reason codes (reasons), kept rejections
- devices, signatures         per-project device registry; EIP-191 device signatures
- canonical, keccak, merkle   canonical bytes, fast keccak, OpenZeppelin-compatible tree
- proofs, hashing_pool        report tree and record proofs; leaf hashing in a worker
- quantities, forest, blue_carbon, sediment, kelp, shellfish, mariculture
                              methodology calculators (integer units)
- inbox                       the one door for monitoring data (API and CLI)

docs/oracle-data.md is the reference.
"""
