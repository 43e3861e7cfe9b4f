"""SM2 signatures made before the move to Tongsuo (by the pure-Python gmssl path) still verify."""

from __future__ import annotations

import pickle

from esign.codec import cose, keys, sm2

# The GM/T 0003.5 example key; the signatures below were made by the gmssl path with id 1234567812345678.
D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
PUBLIC = bytes.fromhex(
    "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
MESSAGE_SIGNATURE = bytes.fromhex(
    "22b3b8b88fc69b2267f60def48eebdb066890eea6234db0a15093148aef2b667"
    "4bb52cd12ee8efb076c7c2114b371ccc643241e31297f74a81c815832f08d006"
)
# A COSE_Sign1 (alg -65600, kid 5a42534d32000001) as a seal's token carries it.
TOKEN = bytes.fromhex(
    "d28451a2013a0001003f04485a42534d32000001a05829e794b5e5ad90e8af81e785a7205a423120e7adbee5908d"
    "206265666f7265207468652073776974636858402fa2077e7dd1796bd73a67a410fde546434893d1ecc6e8889585"
    "b183d18fe8c48bf248b0815c21937a44f523ccd232bb2bafdde0f81a9ef70a8bd88e385ef685"
)


def test_the_key_derives_the_same_public_point() -> None:
    assert sm2.Sm2PrivateKey(D).public_key().to_bytes() == PUBLIC


def test_a_signature_made_before_the_switch_verifies() -> None:
    public = sm2.Sm2PublicKey.from_bytes(PUBLIC)
    assert sm2.verify(public, b"message digest", MESSAGE_SIGNATURE)
    assert not sm2.verify(public, b"message digesT", MESSAGE_SIGNATURE)


def test_a_token_signed_before_the_switch_verifies() -> None:
    sign1 = cose.decode_sign1(TOKEN)
    public = keys.public_key_from_spki(sm2.Sm2PublicKey.from_bytes(PUBLIC).to_spki_der())
    assert sign1.alg == "SM2" and sign1.kid == bytes.fromhex("5a42534d32000001")
    assert keys.verify_raw(public, sign1.to_be_signed(), sign1.signature)
    assert not keys.verify_raw(public, sign1.to_be_signed() + b"!", sign1.signature)


def test_new_signatures_verify_and_keys_travel_to_other_processes() -> None:
    key = pickle.loads(pickle.dumps(sm2.Sm2PrivateKey(D)))
    public = pickle.loads(pickle.dumps(key.public_key()))
    signature = sm2.sign(key, b"message digest")
    assert signature != MESSAGE_SIGNATURE  # a fresh nonce
    assert sm2.verify(public, b"message digest", signature)
