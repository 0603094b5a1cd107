wrk.method = "POST"
wrk.body = '{"v": 1.5}'
wrk.headers["Content-Type"] = "application/json"
