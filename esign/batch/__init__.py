"""Batch issuing: ``POST /v1/dept/certificates:batch`` stores the request, a worker issues it in chunks.

- ``jobs``   the batch as a job: submitted by the route, claimed and leased by a worker, finished
- ``flows``  issuing a batch: items checked one by one, chunks reserved, signed and written in one transaction each
- ``sign``   what runs in the signing processes: specs in, sealed and signed rows out
- ``rows``   the rows a chunk writes, encoded for PostgreSQL's binary COPY
"""
