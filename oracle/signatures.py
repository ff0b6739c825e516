"""Device signatures over canonical readings: EIP-191 personal messages on secp256k1.

A device signs `reading_message(...)` (oracle.canonical) as an Ethereum personal message:
keccak256("\\x19Ethereum Signed Message:\\n" + decimal length + message). That is what
eth-account's `sign_message(encode_defunct(primitive=message))`, hardware wallets and
OpenZeppelin's `MessageHashUtils.toEthSignedMessageHash(bytes)` + `ECDSA.recover` compute, so a
disputed reading can be re-checked on chain. Which signatures count is decided by the one
recovery of the codebase, chain.signatures, under OpenZeppelin's ECDSA rules: 65 bytes r‖s‖v
with v ∈ {27, 28} (a v of 0/1, which ECDSA.recover refuses, is refused here too), s in the lower
half of the curve order, so a signature cannot be re-encoded into a second valid one.
"""

from __future__ import annotations

from collections.abc import Callable

from coincurve import PrivateKey

from chain.signatures import address_of_public_key, recover_public_key
from oracle.keccak import keccak256

_PREFIX = b"\x19Ethereum Signed Message:\n"


def personal_message_digest(message: bytes) -> bytes:
    """The EIP-191 (version 0x45) digest a device signs."""
    return keccak256(_PREFIX + str(len(message)).encode() + message)


def address_of_private_key(private_key: bytes) -> str:
    """The 0x-hex address of a 32-byte private key."""
    pub = PrivateKey(private_key).public_key.format(compressed=False)
    return "0x" + address_of_public_key(pub).hex()


def sign_message(private_key: bytes | PrivateKey, message: bytes) -> bytes:
    """A 65-byte r‖s‖v personal-message signature (deterministic RFC 6979, low s)."""
    key = private_key if isinstance(private_key, PrivateKey) else PrivateKey(private_key)
    sig = key.sign_recoverable(personal_message_digest(message), hasher=None)
    return sig[:64] + bytes([sig[64] + 27])


class SignatureVerifier:
    """Recovers signer addresses, caching public key → address so each key is hashed once.

    Not thread-safe (the cache is a plain dict); give each worker its own verifier.
    """

    def __init__(self) -> None:
        self._addresses: dict[bytes, bytes] = {}

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        """The 20-byte address that signed `message`, or None for a malformed/malleable one."""
        pub = recover_public_key(personal_message_digest(message), signature)
        if pub is None:
            return None
        addr = self._addresses.get(pub)
        if addr is None:
            addr = self._addresses[pub] = address_of_public_key(pub)
        return addr

    def verify(self, message: bytes, signature: bytes, address: bytes) -> bool:
        """Whether `signature` over `message` was made by the key behind `address`."""
        return self.recover(message, signature) == address


def verifier_function() -> Callable[[bytes, bytes, bytes], bool]:
    """A fresh verify(message, signature, address) bound to its own cache."""
    return SignatureVerifier().verify
