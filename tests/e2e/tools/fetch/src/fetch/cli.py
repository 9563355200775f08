import os
import sys

import requests


def main():
    r = requests.get(sys.argv[1], params={"q": "pyelf ü"}, timeout=10)
    print(r.status_code, r.reason, r.headers["X-Test"], r.headers["Content-Type"])
    print("json:", r.json())
    print("encoding:", r.apparent_encoding, r.text.count("\n"))
    print("ca bundle is a file:", os.path.isfile(requests.certs.where()))
    print("requests", requests.__version__)
    return 0 if r.ok else 1
