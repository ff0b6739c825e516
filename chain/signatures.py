"""Signature recovery and address checksums for the whole codebase, under the chain's rules.

Every signature this product accepts off chain (traders' EIP-712 orders and cancels, devices'
EIP-191 readings) may later be checked by a contract with OpenZeppelin's ECDSA, so one set of
rules decides them all, here: 65 bytes r‖s‖v, v ∈ {27, 28}, 0 < s ≤ n/2 (a low-s signature
cannot be re-encoded into a second valid one), a point that recovers; anything else is None,
never an exception. What was signed (the digest) is the caller's business.

Recovery uses coincurve (libsecp256k1): tens of microseconds per signature rather than the
milliseconds of a pure-Python backend. `checksum` is EIP-55 computed directly, cached: eth-utils'
`to_checksum_address` validates its input at length and costs ten times as much on the order
and log paths, where the same few member addresses repeat.
"""

from __future__ import annotations

from functools import lru_cache

from coincurve import PublicKey
from eth_utils import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


@lru_cache(maxsize=65_536)
def checksum(address: str | bytes) -> str:
    """The EIP-55 checksum spelling of a 20-byte address (raw bytes or 0x-hex in any case)."""
    hexa = address.hex() if isinstance(address, bytes) else address[2:].lower()
    if len(hexa) != 40:
        raise ValueError("an address is 20 bytes")
    digest = keccak(text=hexa).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(hexa, digest,
                                                                               strict=False))


def recover_public_key(digest: bytes, signature: bytes) -> bytes | None:
    """The 65-byte uncompressed public key that signed the 32-byte `digest`, or None for a
    signature OpenZeppelin's ECDSA would refuse (wrong length, v not 27/28, s zero or in the
    upper half, no point recovers)."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    s = int.from_bytes(signature[32:64], "big")
    if s == 0 or s > SECP256K1_HALF_N:
        return None
    try:
        public = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None)
    except Exception:  # coincurve raises plain Exception/ValueError for invalid points
        return None
    return bytes(public.format(compressed=False))


def address_of_public_key(public_key_uncompressed: bytes) -> bytes:
    """The 20-byte address of a 65-byte uncompressed public key."""
    return bytes(keccak(public_key_uncompressed[1:])[12:])


def recover(digest: bytes, signature: bytes) -> str | None:
    """The checksummed address that signed `digest` under the rules above, or None."""
    public = recover_public_key(digest, signature)
    return None if public is None else checksum(address_of_public_key(public))
