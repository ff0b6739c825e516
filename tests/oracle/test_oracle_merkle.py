"""Merkle trees: OpenZeppelin compatibility, proofs for every record, tamper detection."""

from __future__ import annotations

import os

import pytest
from eth_hash.auto import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.keccak import build_sorted_pair_tree, double_keccak_many, keccak256
from oracle.merkle import (
    MerkleTree,
    hash_pair,
    leaf_hash,
    leaf_hashes,
    merkle_proof,
    merkle_root,
    verify_proof,
    verify_record,
)

# @openzeppelin/merkle-tree's own test vector: SimpleMerkleTree.of(these 12 leaves) with sorted
# leaves has this root and, as node 1, this hash (src/simple.test.ts.md, "dump (seed=0)").
OZ_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "1d3d2f27573475675df2df1fb427256b05d4fb3c1b60baa7f58e479719daa0aa",
        "46cfb9f0d1f86847e17e8975657bb314b1a3b6bb89e4a55f7d6f4c2fdf0e5422",
        "0229437bdff01e90d3cd2c5dc9d3253d2c13bcb59c0b1caf0862bac2bd829db1",
        "8c11d27a6e9c74765e13271dc8aeae29070438ee6ee872b94347de321c114657",
        "88a73a1171ee3428809bb0a61a2e3c5d1cbf719910d939ae243ec2859fdad36a",
        "aa504056e189fd775322d63793b5a16fa1207441aa1a32439deb249fcdf54c3b",
        "e6c6ce5eb372e601197002c965ee5d050cb2925dbb89822c5c8f27585a9b5a96",
        "9f71c4166a5f935a4bb399392a0e19c8f6f6d70f9a57a5f49b76fd723b694795",
        "223dc038a27b04f90f865157aefbee4e661bdcf6a35cf443f57daae5e6eb3e10",
        "f26f6ac933beb3e3608203578396131902729b62338aae6b4e1a767ae30c8b76",
        "2fac6f51addc8d004b3ff871d87c51837a4d881adb95b2a27820dbcafa94e7b8",
        "c36697399f86481780854e17b7cbc50072efd74da5bfe81a712db493185c82ec",
    )
]
OZ_ROOT = "6e12fdaf4d30f09cb298cbae1fefca45e012f15c4cbe029971591354cb02fb93"
OZ_NODE_1 = "ec92620e0f47fd0c9d042839fefe36d967f496d3d35ac93cea868b19cd2e02ee"


def test_root_matches_openzeppelin_simple_merkle_tree():
    tree = MerkleTree(OZ_LEAVES)
    assert tree.root.hex() == OZ_ROOT
    assert tree.node(1).hex() == OZ_NODE_1
    for leaf in OZ_LEAVES:
        assert verify_proof(tree.proof(leaf), tree.root, leaf)


def test_leaf_order_does_not_change_the_root():
    assert merkle_root(OZ_LEAVES) == merkle_root(list(reversed(OZ_LEAVES)))


def test_a_single_leaf_is_its_own_root_with_an_empty_proof():
    leaf = leaf_hash(b"only record")
    tree = MerkleTree([leaf])
    assert tree.root == leaf
    assert tree.proof(leaf) == []
    assert verify_proof([], tree.root, leaf)


def test_an_empty_tree_is_refused():
    with pytest.raises(ValueError):
        MerkleTree([])


def test_proof_for_a_leaf_not_in_the_tree_is_a_key_error():
    tree = MerkleTree(OZ_LEAVES)
    with pytest.raises(KeyError):
        tree.proof(leaf_hash(b"absent"))
    assert leaf_hash(b"absent") not in tree
    assert OZ_LEAVES[0] in tree


def test_leaves_are_double_keccak_of_the_record():
    record = b'{"schema":"tanhui.lab-sample.v1"}'
    assert leaf_hash(record) == reference_keccak(reference_keccak(record))


def test_pair_hash_is_commutative_keccak_of_the_sorted_pair():
    a, b = OZ_LEAVES[0], OZ_LEAVES[1]
    assert hash_pair(a, b) == hash_pair(b, a) == reference_keccak(min(a, b) + max(a, b))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_fast_keccak_matches_eth_hash(chunks):
    for data in chunks:
        assert keccak256(data) == reference_keccak(data)
    assert double_keccak_many(chunks) == [reference_keccak(reference_keccak(c)) for c in chunks]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_tree_nodes_match_the_reference_construction(leaves):
    # The reference: OpenZeppelin's makeMerkleTree written out naively with eth_hash.
    ordered = sorted(leaves)
    n = len(ordered)
    nodes = [b""] * (2 * n - 1)
    for i, leaf in enumerate(ordered):
        nodes[2 * n - 2 - i] = leaf
    for i in range(n - 2, -1, -1):
        left, right = nodes[2 * i + 1], nodes[2 * i + 2]
        nodes[i] = reference_keccak(min(left, right) + max(left, right))
    buf = bytearray(b"".join(nodes[: n - 1]) if n > 1 else b"") + b"".join(nodes[n - 1 :])
    build_sorted_pair_tree(buf, n)
    assert bytes(buf) == b"".join(nodes)
    assert MerkleTree(leaves).root == nodes[0]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=60, unique=True),
    st.data(),
)
def test_every_record_proves_and_a_tampered_one_does_not(records, data):
    tree = MerkleTree.of_records(records)
    for record in records:
        proof = tree.record_proof(record)
        assert verify_record(proof, tree.root, record)
        assert len(proof) <= max(1, len(records)).bit_length()
    victim = data.draw(st.sampled_from(records))
    flip = data.draw(st.integers(min_value=0, max_value=len(victim) - 1))
    tampered = bytearray(victim)
    tampered[flip] ^= 0x01
    assert not verify_record(tree.record_proof(victim), tree.root, bytes(tampered))


def test_compatibility_functions_keep_their_meaning():
    leaves = leaf_hashes([str(i).encode() for i in range(7)])
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        assert verify_proof(merkle_proof(leaves, i), root, leaf)
    assert not verify_proof(merkle_proof(leaves, 0), root, leaf_hash(b"tampered"))


def test_proofs_are_logarithmic():
    leaves = leaf_hashes([os.urandom(16) for _ in range(1000)])
    tree = MerkleTree(leaves)
    assert max(len(tree.proof(leaf)) for leaf in leaves[:50]) <= 10


def test_report_tree_proofs_are_self_contained_and_detect_tampering():
    from oracle.proofs import RecordProof, ReportTree
    from oracle.results import ValidationResult

    a = ValidationResult[bytes]("lab-sample", records=[b'{"a":1}', b'{"a":2}'])
    b = ValidationResult[bytes]("field-plot", records=[b'{"b":1}'])
    report = ReportTree([a, b])
    assert report.counts == {"lab-sample": 2, "field-plot": 1}
    assert len(report) == 3
    proof = report.prove(b'{"b":1}')
    assert proof.verify() and proof.verify(report.root)
    again = RecordProof.from_json(proof.to_json())
    assert again == proof
    forged = RecordProof(b'{"b":2}', proof.leaf, proof.proof, proof.root)
    assert not forged.verify()
    assert not proof.verify(root=leaf_hash(b"another root"))
    with pytest.raises(KeyError):
        report.prove(b'{"c":1}')


def test_a_tree_built_half_in_a_worker_is_the_same_tree():
    from oracle.hashing_pool import LeafHasher
    from oracle.keccak import subtree_levels

    # subtree ranges cover every inner node exactly once (with the root)
    for n in (2, 3, 5, 8, 9, 1000, 1025):
        covered = [
            i for lo, hi in subtree_levels(n, 1) + subtree_levels(n, 2) for i in range(lo, hi + 1)
        ]
        assert sorted([*covered, 0]) == list(range(n - 1))
    leaves = leaf_hashes([os.urandom(8) for _ in range(9000)])
    with LeafHasher() as hasher:
        split = MerkleTree(leaves, hasher)
    whole = MerkleTree(leaves)
    assert split.root == whole.root
    assert [split.node(i) for i in range(0, 17999, 997)] == [
        whole.node(i) for i in range(0, 17999, 997)
    ]
