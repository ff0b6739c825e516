"""One signature recovery and one checksum for the whole codebase (chain.signatures): traders'
orders and devices' readings are accepted by the same rules OpenZeppelin's ECDSA applies on
chain — 65 bytes, v ∈ {27, 28}, 0 < s ≤ n/2 — and a refused signature is None, never an
exception."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_utils import keccak, to_checksum_address

from chain.signatures import SECP256K1_N, checksum, recover
from oracle.canonical import reading_message
from oracle.signatures import SignatureVerifier

KEY = (7).to_bytes(32, "big")
SIGNER = Account.from_key(KEY).address
DIGEST = keccak(text="an order's EIP-712 digest")


def signed(digest: bytes = DIGEST) -> bytes:
    return bytes(Account.unsafe_sign_hash(digest, KEY).signature)


def high_s_twin(sig: bytes) -> bytes:
    """(r, n − s, v ^ 1): the same signature re-encoded, valid ECDSA for the same key."""
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([((sig[64] - 27) ^ 1) + 27])


def test_a_signature_recovers_its_checksummed_signer() -> None:
    assert recover(DIGEST, signed()) == SIGNER


def test_the_high_s_twin_of_a_signature_is_refused() -> None:
    assert recover(DIGEST, high_s_twin(signed())) is None


def test_a_v_of_0_or_1_is_refused_as_on_chain() -> None:
    sig = signed()
    assert recover(DIGEST, sig[:64] + bytes([sig[64] - 27])) is None


@pytest.mark.parametrize("length", [0, 64, 66])
def test_a_signature_of_another_length_is_refused(length: int) -> None:
    assert recover(DIGEST, (signed() * 2)[:length]) is None


def test_a_zero_s_or_a_point_off_the_curve_is_refused_without_raising() -> None:
    sig = signed()
    assert recover(DIGEST, sig[:32] + bytes(32) + sig[64:]) is None
    assert recover(DIGEST, bytes(64) + sig[64:]) is None  # r = 0: no point recovers


def test_a_device_signature_with_v_0_or_1_is_refused() -> None:
    message = reading_message("MW-1", 1_704_038_460, "salinity", "21.3", "PSU")
    sig = bytes(Account.sign_message(encode_defunct(primitive=message), KEY).signature)
    verifier = SignatureVerifier()
    assert verifier.recover(message, sig) == bytes.fromhex(SIGNER[2:])
    assert verifier.recover(message, sig[:64] + bytes([sig[64] - 27])) is None


def test_a_device_signature_and_an_order_signature_follow_the_same_rules() -> None:
    message = b"a canonical reading"
    sig = bytes(Account.sign_message(encode_defunct(primitive=message), KEY).signature)
    digest = _hash_eip191_message(encode_defunct(primitive=message))
    for candidate in (sig, high_s_twin(sig), sig[:64] + bytes([sig[64] - 27]), sig[:64]):
        device = SignatureVerifier().recover(message, candidate)
        order = recover(digest, candidate)
        assert (None if device is None else checksum(device)) == order


def test_checksum_spells_addresses_as_eip55_from_bytes_or_any_case() -> None:
    raw = bytes.fromhex(SIGNER[2:])
    assert checksum(raw) == checksum(SIGNER.lower()) == checksum(SIGNER.upper().replace("0X", "0x"))
    assert checksum(raw) == to_checksum_address(raw) == SIGNER


def test_checksum_refuses_what_is_not_20_bytes() -> None:
    with pytest.raises(ValueError):
        checksum(bytes(19))
    with pytest.raises(ValueError):
        checksum("0x" + "ab" * 21)
