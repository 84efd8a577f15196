-- wrk script: GET /users/{mpid}/recs for MPIDs drawn from 1..BENCH_USERS, or
-- a fixed BENCH_PATH (the bare app's ceiling).

local users = tonumber(os.getenv("BENCH_USERS") or "1000")
local fixed_path = os.getenv("BENCH_PATH")

function init(args)
  math.randomseed(os.time())
end

function request()
  local path = fixed_path or string.format("/users/%d/recs", math.random(users))
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
