-- wrk script: POSTs real access-log lines to a wasmstash endpoint.
-- Single-event mode sends one line per request, cycling through the log;
-- batch mode (WASMSTASH_BATCH=N) sends N lines as NDJSON per request.
local log_path = os.getenv("WASMSTASH_LOG") or "../shared/data/access/apache_logs"
local batch = tonumber(os.getenv("WASMSTASH_BATCH") or "0")

local function json_event(line)
  local escaped = line:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\t', '\\t')
  return '{"message":"' .. escaped .. '"}'
end

local events = {}
for line in io.lines(log_path) do
  events[#events + 1] = json_event(line)
end
assert(#events > 0, "no lines in " .. log_path)

local bodies = {}
if batch > 0 then
  local i = 1
  for b = 1, 16 do
    local lines = {}
    for _ = 1, batch do
      lines[#lines + 1] = events[i]
      i = i % #events + 1
    end
    bodies[b] = table.concat(lines, "\n") .. "\n"
  end
else
  bodies = events
end

-- Every request is formatted once, up front: formatting per request in Lua,
-- and a per-response Lua callback, cost wrk CPU that the server, on the same
-- cores, would otherwise get. wrk counts non-2xx answers itself
-- (summary.errors.status), so no response callback is needed.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local requests = {}
for i, body in ipairs(bodies) do
  requests[i] = wrk.format(nil, nil, nil, body)
end

local next_request = 0
request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

done = function(summary, latency, requests)
  io.write(string.format("WASMSTASH requests=%d non200=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
