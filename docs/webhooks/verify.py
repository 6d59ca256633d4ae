# Verifies a Lead Routing webhook delivery: python3 verify.py SECRET SIGNATURE_HEADER < raw_body
import hashlib, hmac, sys, time

def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(parts["t"])) <= tolerance and hmac.compare_digest(expected, parts["v1"])

if __name__ == "__main__":
    print("valid" if verify(sys.argv[1], sys.argv[2], sys.stdin.buffer.read()) else "invalid")
