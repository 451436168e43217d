"""Verifies an HC1 certificate with implementations other than Outbreak's own.

Reads a JSON object from standard input: {"hc1": "HC1:...", "trust_list": <the server's
GET /api/v1/certificates/trust-list answer>}. Decodes with the PyPI packages base45, zlib,
cbor2 and pycose, checks the COSE_Sign1 signature with the trust-list key named by the
certificate's kid, and prints {"valid": bool, "kid": str, "iss": str, "iat": int,
"exp": int, "hcert": {...}} on standard output.
"""

import base64
import json
import sys
import zlib

import base45
import cbor2
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pycose.headers import KID
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import Sign1Message


def main():
    request = json.load(sys.stdin)
    text = request["hc1"]
    if not text.startswith("HC1:"):
        raise SystemExit("not an HC1 text")
    cose = zlib.decompress(base45.b45decode(text[4:]))
    message = Sign1Message.decode(cose)
    kid = message.phdr.get(KID) or message.uhdr.get(KID)
    kid = base64.b64encode(kid).decode()
    keys = {k["kid"]: k for k in request["trust_list"]["keys"]}
    valid = False
    if kid in keys:
        numbers = load_der_public_key(base64.b64decode(keys[kid]["public_key"])).public_numbers()
        message.key = EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
        valid = message.verify_signature()
    claims = cbor2.loads(message.payload)
    json.dump(
        {"valid": valid, "kid": kid, "iss": claims.get(1), "iat": claims.get(6), "exp": claims.get(4),
         "hcert": claims[-260][1]},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
