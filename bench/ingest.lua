-- wrk script: POST /v1/leads with a unique external id per request.
--
--   wrk -t2 -c16 -d20s --latency -s bench/ingest.lua http://127.0.0.1:PORT -- TOKEN SOURCE RUN [QUEUE]
--
-- TOKEN   ingest API key (Bearer)
-- SOURCE  lead source written in every body (bench/run.sh uses one per phase so the phases'
--         rows can be counted apart)
-- RUN     a tag making external ids unique across runs against the same database
-- QUEUE   optional: leads carry no owner and go to this queue (its strategy assigns)
--
-- External id: "<RUN>-t<thread>-<counter>"; the counter is per thread, the thread number is
-- assigned in setup(), so ids never repeat within a run.
--
-- Kept lean on purpose: wrk shares the machine with the service and PostgreSQL, and every
-- microsecond it spends per request is taken from them (pgbench, the other side of the ratio,
-- is plain C). So the request is one string concatenation (no wrk.format, no headers table),
-- and response() is not defined: when it is, wrk copies every response's headers and body into
-- Lua. Measured on the 2-core bench VM, against the same running service, 8 s each, two runs
-- per variant: with wrk.format and response(), 3,187 and 3,252 req/s and wrk at 0.83-0.84 s of
-- CPU; lean, 3,790 and 3,799 req/s and wrk at 0.66-0.67 s. wrk still counts responses with a
-- status >= 400 itself (summary.errors.status).
--
-- With BENCH_COUNT_STATUSES=1 in the environment, response() is defined and counts each status
-- code and keeps the first error body: for finding out what the non-2xx responses were, not
-- for measuring.
--
-- done() prints machine-readable lines starting with "BENCH_" (parsed by bench/run.sh): counts
-- of 2xx and non-2xx responses (status >= 400; a 1xx/3xx would count as 2xx, the service sends
-- neither here), per status code when counting, the achieved rate and latency percentiles in
-- microseconds. Connection-level errors (connect/read/write/timeout) are not responses; wrk
-- reports them itself ("Socket errors: ...").

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

-- Per-thread state. The counters are globals of the thread's Lua state on purpose: done()
-- reads them with thread:get(), which looks up a global in that thread's state.
local prefix, body_head, email_head, body_tail, queue
local counter = 0
ok, non2xx = 0, 0
by_status = {}
first_error = nil

function init(args)
   local token = args[1]
   local source = args[2] or "bench-http"
   local run = args[3] or tostring(os.time())
   queue = args[4]
   if token == nil or token == "" then
      io.stderr:write("ingest.lua: pass the ingest token after --\n")
      os.exit(2)
   end
   local host = wrk.headers["Host"] or wrk.host .. ":" .. wrk.port
   prefix = "POST /v1/leads HTTP/1.1\r\nHost: " .. host ..
      "\r\nAuthorization: Bearer " .. token ..
      "\r\nContent-Type: application/json\r\nContent-Length: "
   body_head = '{"source":"' .. source .. '","external_id":"' .. run .. "-t" ..
      wrk.thread:get("tid") .. "-"
   if queue then
      body_tail = '@example.com","queue":"' .. queue .. '"}'
   else
      body_tail = '@example.com","owner":"rep-'
   end
   email_head = '","lead_type":"demo_request","email":"' .. run .. "-t" .. wrk.thread:get("tid") .. "-"
end

function request()
   counter = counter + 1
   local body
   -- The email is unique per lead (as the external id): every lead is judged, none is a
   -- duplicate.
   if queue then
      body = body_head .. counter .. email_head .. counter .. body_tail
   else
      body = body_head .. counter .. email_head .. counter .. body_tail .. (counter % 50 + 1) ..
         '","queue":"emea"}'
   end
   return prefix .. #body .. "\r\n\r\n" .. body
end

if os.getenv("BENCH_COUNT_STATUSES") == "1" then
   function response(status, hdrs, body)
      if status >= 200 and status < 300 then
         ok = ok + 1
      else
         non2xx = non2xx + 1
         local key = tostring(status)
         by_status[key] = (by_status[key] or 0) + 1
         -- keep the first error body of each thread for the report
         if first_error == nil then
            first_error = string.sub(tostring(body), 1, 300)
         end
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local t_non2xx = e.status
   local statuses = {}
   local err_sample
   if response then
      t_non2xx = 0
      for _, thread in ipairs(threads) do
         t_non2xx = t_non2xx + (thread:get("non2xx") or 0)
         local s = thread:get("by_status")
         if s then
            for code, n in pairs(s) do
               statuses[code] = (statuses[code] or 0) + n
            end
         end
         err_sample = err_sample or thread:get("first_error")
      end
   end
   local t_ok = summary.requests - t_non2xx
   local secs = summary.duration / 1e6
   print(string.format("BENCH_DURATION_US %d", summary.duration))
   print(string.format("BENCH_REQUESTS %d", summary.requests))
   print(string.format("BENCH_2XX %d", t_ok))
   print(string.format("BENCH_NON2XX %d", t_non2xx))
   for code, n in pairs(statuses) do
      print(string.format("BENCH_STATUS %s %d", code, n))
   end
   if err_sample then
      print("BENCH_FIRST_ERROR " .. string.gsub(err_sample, "%s+", " "))
   end
   print(string.format("BENCH_SOCKET_ERRORS connect=%d read=%d write=%d timeout=%d",
      e.connect, e.read, e.write, e.timeout))
   print(string.format("BENCH_RPS_ALL %.1f", summary.requests / secs))
   print(string.format("BENCH_RPS_2XX %.1f", t_ok / secs))
   print(string.format("BENCH_LAT_P50_US %d", latency:percentile(50)))
   print(string.format("BENCH_LAT_P90_US %d", latency:percentile(90)))
   print(string.format("BENCH_LAT_P99_US %d", latency:percentile(99)))
   print(string.format("BENCH_LAT_MAX_US %d", latency.max))
   print(string.format("BENCH_LAT_MEAN_US %d", latency.mean))
end
