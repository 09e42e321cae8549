-- wrk script for bench/_trading_http.py: POST /accounts/{id}/orders, a fresh idempotency key
-- (client_order_id) per request, random accounts, instruments, sides, quantities and prices.
--
--   wrk -t1 -c16 -d20s -s bench/_trading_orders.lua http://127.0.0.1:PORT -- ACCOUNTS INSTRUMENTS RUN
--
-- ACCOUNTS and INSTRUMENTS: ids separated by commas; RUN: a prefix of this run's keys (another
-- run on the same database sends other keys: no replays). Prints one JSON line at the end:
-- {"requests", "seconds", "statuses": {...}, "errors": {...}, "latency_ms": {"p50", ...}}.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local accounts, instruments = {}, {}
local counter = 0
local prefix = ""
statuses = {}

function init(args)
  for a in string.gmatch(args[1], "%d+") do accounts[#accounts + 1] = a end
  for i in string.gmatch(args[2], "%d+") do instruments[#instruments + 1] = i end
  prefix = (args[3] or "w") .. id .. "-"
  math.randomseed(id)
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local body = string.format(
    '{"instrument_id":%s,"side":"%s","quantity":"%d","price":"%d.%02d","client_order_id":"%s%d"}',
    instruments[math.random(#instruments)],
    math.random(2) == 1 and "buy" or "sell",
    math.random(1, 99),
    math.random(90, 109),
    math.random(0, 99),
    prefix,
    counter
  )
  return wrk.format("POST", "/accounts/" .. accounts[math.random(#accounts)] .. "/orders",
                    headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_ms": {"p50": %.3f, "p95": %.3f, "p99": %.3f, "max": %.3f, "mean": %.3f}}\n',
    summary.requests, summary.duration / 1e6, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3
  ))
end
