"""The database-free core of electronic certificates: what a verifier needs offline.

Import the module you need (``from esign.codec import verify``); nothing here touches a database,
Redis or a store (an import contract says so):

- ``licence``    licence identifiers (证照标识) with their MOD 37,36 check character
- ``keys``       ES256 and SM2 seal keys, the ``Signer`` interface, raw r‖s signatures
- ``sm2``        SM2 with SM3 (signer id 1234567812345678) on Tongsuo (tongsuopy)
- ``x509``       the root CA and seal certificates (ES256 and SM2 keys), the chain check
- ``csr``        PKCS #10 requests from departments that keep their own keys
- ``cose``       COSE_Sign1 encoding and strict decoding
- ``tokens``     ``ZB1:`` certificate and presentation tokens
- ``statuslist`` 2-bit status lists and their signed JWT
- ``trustlist``  the signed trust list and its freshness
- ``verify``     ``verify_token``: the verdict behind ``/v1/verify`` and offline verifiers
- ``qr``         QR codes of tokens (PNG, SVG)
"""
