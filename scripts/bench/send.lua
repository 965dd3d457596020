-- wrk script of scripts/bench-rotel.py: every thread (one connection each, so responses come in
-- the order of requests) sends its share of the listed bodies once, sends a body again after a
-- 429 or 503, and writes a marker file when it has loaded its bodies and when every one of them
-- is answered. Requests after that carry an empty export request.
-- Arguments: index file, thread count, content type, marker prefix, empty body.

id = 0
local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local mine, i, marker = {}, 1, nil
local empty, finished = nil, false
ok, retried, failed = 0, 0, 0

local function touch(name)
   local f = assert(io.open(marker .. name .. "-" .. id, "w"))
   f:close()
end

local function finish()
   if not finished then
      finished = true
      touch("done")
   end
   wrk.thread:stop()
end

function init(args)
   local index, nthreads, content_type = args[1], tonumber(args[2]), args[3]
   marker = args[4]
   local headers = { ["Content-Type"] = content_type }
   local k = 0
   for name in io.lines(index) do
      if k % nthreads == id then
         local f = assert(io.open(name, "rb"))
         mine[#mine + 1] = wrk.format("POST", nil, headers, f:read("*a"))
         f:close()
      end
      k = k + 1
   end
   empty = wrk.format("POST", nil, headers, args[5] or "")
   touch("ready")
end

function request()
   return mine[i] or empty
end

function response(status, headers, body)
   if i > #mine then
      return finish()
   end
   if status == 200 then
      ok = ok + 1
      i = i + 1
   elseif status == 429 or status == 503 then
      retried = retried + 1
   else
      failed = failed + 1
      i = i + 1
   end
   if i > #mine then
      finish()
   end
end

function done(summary, latency, requests)
   local t = { ok = 0, retried = 0, failed = 0 }
   for _, thread in ipairs(threads) do
      for key, _ in pairs(t) do
         t[key] = t[key] + (thread:get(key) or 0)
      end
   end
   io.write(string.format('BENCH {"ok": %d, "retried": %d, "failed": %d}\n', t.ok, t.retried, t.failed))
end
