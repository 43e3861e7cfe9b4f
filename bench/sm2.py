"""SM2 benchmark: Tongsuo (``esign.codec.sm2``) against the pure-Python gmssl path it replaced.

    .venv/bin/python bench/sm2.py [--seconds 2]

Signs and verifies a 300-byte message (a token's size) for ``--seconds`` each way with both, in
this one process, alternating, and prints operations per second and Tongsuo's speed-up as a ratio
(the machine's speed varies; the ratio is the figure). Each side's signature is checked by the other
first, with the signer id ``1234567812345678``. gmssl is a development dependency for this baseline.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from gmssl import sm2 as gm

from esign.codec import sm2


def _digest(public: sm2.Sm2PublicKey, data: bytes) -> bytes:
    z = hashes.Hash(hashes.SM3())
    z.update((len(sm2.DEFAULT_ID) * 8).to_bytes(2, "big") + sm2.DEFAULT_ID)
    for value in (sm2.A, sm2.B, sm2.GX, sm2.GY, public.x, public.y):
        z.update(value.to_bytes(32, "big"))
    e = hashes.Hash(hashes.SM3())
    e.update(z.finalize() + data)
    return e.finalize()


def _gmssl(key: sm2.Sm2PrivateKey) -> gm.CryptSM2:
    engine = gm.CryptSM2(private_key=f"{key.d:064x}", public_key="")
    engine.public_key = f"{key.public_key().x:064x}{key.public_key().y:064x}"
    return engine


def gmssl_sign(engine: gm.CryptSM2, public: sm2.Sm2PublicKey, data: bytes) -> bytes:
    while (signature := engine.sign(_digest(public, data), f"{secrets.randbelow(sm2.N - 1) + 1:064x}")) is None:
        pass
    return bytes.fromhex(signature)


def gmssl_verify(engine: gm.CryptSM2, public: sm2.Sm2PublicKey, data: bytes, signature: bytes) -> bool:
    return bool(engine.verify(signature.hex(), _digest(public, data)))


def rate(fn, seconds: float) -> float:  # type: ignore[no-untyped-def]
    n, end = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        fn()
        n += 1
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    key = sm2.generate_private_key()
    public = key.public_key()
    engine = _gmssl(key)
    data = secrets.token_bytes(300)
    ours, theirs = sm2.sign(key, data), gmssl_sign(engine, public, data)
    assert sm2.verify(public, data, theirs) and gmssl_verify(engine, public, data, ours), "the two disagree"
    results: dict[str, list[float]] = {k: [] for k in ("gmssl sign", "tongsuo sign", "gmssl verify", "tongsuo verify")}
    for _ in range(2):  # alternate, so a change in the machine's speed falls on both
        results["gmssl sign"].append(rate(lambda: gmssl_sign(engine, public, data), seconds / 4))
        results["tongsuo sign"].append(rate(lambda: sm2.sign(key, data), seconds / 4))
        results["gmssl verify"].append(rate(lambda: gmssl_verify(engine, public, data, ours), seconds / 4))
        results["tongsuo verify"].append(rate(lambda: sm2.verify(public, data, ours), seconds / 4))
    mean = {k: sum(v) / len(v) for k, v in results.items()}
    for name, value in mean.items():
        print(f"{name:16} {value:10,.0f}/s")
    print(
        f"ratio tongsuo / gmssl: sign {mean['tongsuo sign'] / mean['gmssl sign']:.1f}×, "
        f"verify {mean['tongsuo verify'] / mean['gmssl verify']:.1f}×"
    )


if __name__ == "__main__":
    main()
