"""Electronic certificates (电子证照): the platform CA, seals, signed tokens, trust and status lists.

The database-free core; import the module you need (``from esign import verify``):

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
- ``zb2``, ``zb2_verify``  ``ZB2:`` presentations made on the holder's device (SD-CWT), their verification
- ``qr``         QR codes of tokens (PNG, SVG)
- ``issuing``    the rules of issuing (fields, holders, validity, canonical record), pure
- ``seal_image`` the round red picture of a seal, as SVG
- ``page``       the verification page's HTML

Backed by PostgreSQL, for the application (``esign.wiring`` is what ``api/app.py`` plugs in):

- ``ca``, ``state``                the platform root and presentation seal; per-process state
- ``seals``, ``seal_store``        departments' seals: made, rotated, revoked
- ``service``, ``views``,          issuing one certificate (``issue_certificate``, also for other
  ``delivery``                     domains), department signatures, revoke / suspend / resume
- ``batch``, ``batch_sign``,       batch issuing: signing processes, rows encoded for binary COPY,
  ``batch_rows``                   bulk writes in chunks
- ``lists``                        status-list slots; the signed trust list and status lists, cached
- ``verification``                 ``/v1/verify`` against the current signed lists
- ``devices``, ``device_routes``   holders' device keys and their presentation credentials
- ``certificate_store``, ``type_store``  SQL of certificates, serials and certificate types
- ``*_routes``, ``http``, ``models``     the HTTP API
"""
