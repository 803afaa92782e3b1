#!/usr/bin/env python3
"""Sign a batch of wire requests with botocore, for differential_test.go.

stdin:  a JSON list of requests:
          {"mode": "header"|"query", "service", "region", "method", "url",
           "headers": [[name, value], ...] in wire order, "body": str,
           "expires": int, "access_key", "secret_key", "token", "timestamp":
           "YYYYMMDDTHHMMSSZ"}
stdout: a JSON list, one per request, of
          {"signature", "canonical_request", "string_to_sign"} or {"error"}.

Header mode uses SigV4Auth / S3SigV4Auth, query mode SigV4QueryAuth /
S3SigV4QueryAuth, exactly as botocore signs for its clients. The clock is fixed
the way botocore's own tests fix it: SigV4Auth.add_auth reads the time through
botocore.auth.get_current_datetime, which is replaced here.
"""

import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

S3_SERVICES = {"s3", "s3-object-lambda", "s3-outposts", "s3express"}


def sign(req):
    ts = datetime.datetime.strptime(req["timestamp"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda *args, **kwargs: ts
    creds = Credentials(req["access_key"], req["secret_key"], req.get("token") or None)
    s3 = req["service"] in S3_SERVICES
    if req["mode"] == "header":
        cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
        auth = cls(creds, req["service"], req["region"])
    else:
        cls = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        auth = cls(creds, req["service"], req["region"], expires=req["expires"])

    body = req.get("body") or None
    request = AWSRequest(method=req["method"], url=req["url"], data=body.encode() if body else None)
    for name, value in req["headers"]:
        # HTTPHeaders (an email.message.Message) appends on assignment, so a
        # repeated header stays repeated, in wire order.
        request.headers[name] = value

    seen = {}
    orig_cr, orig_sts = auth.canonical_request, auth.string_to_sign

    def canonical_request(r):
        seen["canonical_request"] = orig_cr(r)
        return seen["canonical_request"]

    def string_to_sign(r, cr):
        seen["string_to_sign"] = orig_sts(r, cr)
        return seen["string_to_sign"]

    auth.canonical_request = canonical_request
    auth.string_to_sign = string_to_sign
    auth.add_auth(request)

    if req["mode"] == "header":
        sig = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    else:
        sig = request.url.rsplit("&X-Amz-Signature=", 1)[1]
    seen["signature"] = sig
    return seen


def main():
    out = []
    for req in json.load(sys.stdin):
        try:
            out.append(sign(req))
        except Exception as e:  # report per request; the Go test prints it
            out.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
