"""Fetches https://localhost:PORT/ with urllib and the default SSL context; prints the body or the
reason it failed."""
import ssl
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        print("ok", r.read().decode())
except urllib.error.URLError as e:
    reason = e.reason
    if isinstance(reason, ssl.SSLCertVerificationError):
        print("verify-failed", reason.verify_message)
    else:
        print("error", reason)
    sys.exit(3)
