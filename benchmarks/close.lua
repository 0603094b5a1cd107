-- Every request on a new connection (benchmarks/tls.py: over HTTPS, one full handshake each).
wrk.headers["Connection"] = "close"
