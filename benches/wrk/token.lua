-- wrk script for BENCHMARKS.md's HTTP load test: POSTs the client_credentials form to /token
-- with HTTP Basic client authentication (client "bench-cc" of benches/wrk/demo.json).
-- Usage: wrk -t2 -c32 -d20s -s benches/wrk/token.lua http://127.0.0.1:3000/token
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- base64("bench-cc:a-long-random-bench-secret")
wrk.headers["Authorization"] = "Basic YmVuY2gtY2M6YS1sb25nLXJhbmRvbS1iZW5jaC1zZWNyZXQ="

-- Counts answers that are not 200, so a run that only measured errors is visible.
local failures = 0
response = function(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    if failures == 1 then
      io.stderr:write("first non-200 answer: " .. status .. " " .. body .. "\n")
    end
  end
end
