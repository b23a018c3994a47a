-- wrk script: POST /v1/leads with a unique external id per request.
--
--   wrk -t2 -c16 -d20s --latency -s bench/ingest.lua http://127.0.0.1:PORT -- TOKEN SOURCE RUN
--
-- TOKEN   ingest API key (Bearer)
-- SOURCE  lead source written in every body (bench/run.sh uses one per phase so the phases'
--         rows can be counted apart)
-- RUN     a tag making external ids unique across runs against the same database
--
-- External id: "<RUN>-t<thread>-<counter>"; the counter is per thread, the thread number is
-- assigned in setup(), so ids never repeat within a run.
--
-- done() prints machine-readable lines starting with "BENCH_" (parsed by bench/run.sh):
-- counts of 2xx / 201 / non-2xx responses (per status code), the achieved rate and latency
-- percentiles in microseconds. Connection-level errors (connect/read/write/timeout) are not
-- responses; wrk reports them itself ("Socket errors: ...").

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

-- Per-thread state. The counters are globals of the thread's Lua state on purpose: done()
-- reads them with thread:get(), which looks up a global in that thread's state.
local token, source, run, tid, queue
local headers = {}
counter, ok, created, non2xx = 0, 0, 0, 0
by_status = {}
first_error = nil

function init(args)
   token = args[1]
   source = args[2] or "bench-http"
   run = args[3] or tostring(os.time())
   -- With a 4th argument, leads carry no owner and go to that queue (its strategy assigns).
   queue = args[4]
   if token == nil or token == "" then
      io.stderr:write("ingest.lua: pass the ingest token after --\n")
      os.exit(2)
   end
   tid = wrk.thread:get("tid")
   headers["Authorization"] = "Bearer " .. token
   headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   if queue then
      local body = string.format(
         '{"source":"%s","external_id":"%s-t%d-%d","lead_type":"demo_request",' ..
         '"email":"a@example.com","queue":"%s"}',
         source, run, tid, counter, queue)
      return wrk.format("POST", "/v1/leads", headers, body)
   end
   local body = string.format(
      '{"source":"%s","external_id":"%s-t%d-%d","lead_type":"demo_request",' ..
      '"email":"a@example.com","owner":"rep-%d","queue":"emea"}',
      source, run, tid, counter, counter % 50 + 1)
   return wrk.format("POST", "/v1/leads", headers, body)
end

function response(status, hdrs, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
      if status == 201 then
         created = created + 1
      end
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

function done(summary, latency, requests)
   local t_ok, t_created, t_non2xx = 0, 0, 0
   local statuses = {}
   local err_sample
   for _, thread in ipairs(threads) do
      t_ok = t_ok + (thread:get("ok") or 0)
      t_created = t_created + (thread:get("created") or 0)
      t_non2xx = t_non2xx + (thread:get("non2xx") or 0)
      local s = thread:get("by_status")
      if s then
         for code, n in pairs(s) do
            statuses[code] = (statuses[code] or 0) + n
         end
      end
      err_sample = err_sample or thread:get("first_error")
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   print(string.format("BENCH_DURATION_US %d", summary.duration))
   print(string.format("BENCH_REQUESTS %d", summary.requests))
   print(string.format("BENCH_2XX %d", t_ok))
   print(string.format("BENCH_201 %d", t_created))
   print(string.format("BENCH_NON2XX %d", t_non2xx))
   for code, n in pairs(statuses) do
      print(string.format("BENCH_STATUS %s %d", code, n))
   end
   if err_sample then
      print("BENCH_FIRST_ERROR " .. string.gsub(err_sample, "%s+", " "))
   end
   -- (wrk's own errors.status is its count of non-2xx/3xx responses, reported above)
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
