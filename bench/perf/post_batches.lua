-- wrk script: POST mParticle webhook batches, every batch and event with
-- fresh ids so none is a duplicate. Environment:
--   BENCH_PATH    route to post to                  (/webhooks/mparticle)
--   BENCH_EVENTS  commerce events per batch         (1)
--   BENCH_USERS   MPIDs drawn from 1..BENCH_USERS   (10000)
--   BENCH_ITEMS   SKUs drawn from 1..BENCH_ITEMS    (2000)
--   BENCH_DELAY_MS  pause per connection between requests, to hold a rate (0)
--   BENCH_RUN     a number unique to this wrk run, so no two runs share ids (0)

local path = os.getenv("BENCH_PATH") or "/webhooks/mparticle"
local events_per_batch = tonumber(os.getenv("BENCH_EVENTS") or "1")
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local items = tonumber(os.getenv("BENCH_ITEMS") or "2000")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local run = tonumber(os.getenv("BENCH_RUN") or "0")
local actions = {"view_detail", "view_detail", "view_detail", "add_to_cart", "purchase"}

local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

local counter = 0
function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

local function event(n)
  local action = actions[math.random(#actions)]
  return string.format(
    '{"event_type":"commerce_event","data":{"message_id":"m-%d-%d-%d-%d",'
      .. '"timestamp_unixtime_ms":%d,"session_uuid":"s-%d",'
      .. '"product_action":{"action":"%s","products":[{"id":"SKU-%d","price":9.5}]}}}',
    run, thread_id or 0, counter, n, os.time() * 1000, math.random(1000), action,
    math.random(items))
end

function request()
  counter = counter + 1
  local events = {}
  for n = 1, events_per_batch do events[n] = event(n) end
  local body = string.format(
    '{"schema_version":2,"environment":"production","mpid":%d,'
      .. '"batch_id":%d,"timestamp_unixtime_ms":%d,'
      .. '"user_identities":[{"identity_type":"customer_id","identity":"c"}],'
      .. '"events":[%s]}',
    -- Exact in a double: run < 2^20, thread < 8, counter < 2^29.
    math.random(users), (run * 8 + (thread_id or 0)) * 2^29 + counter, os.time() * 1000,
    table.concat(events, ","))
  -- A headers table replaces wrk's own (-H ones included), so copy them.
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", path, headers, body)
end

function delay()
  return delay_ms
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
