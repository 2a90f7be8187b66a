-- wrk script: request the paths listed in a file, then print a JSON summary line.
--   wrk ... -s wrk_paths.lua URL -- PATHS_FILE MODE THREADS [DONE_PREFIX]
-- MODE "cycle": each thread walks the whole list round and round (a hot set).
-- MODE "once":  the threads split the list; a thread stops after its share has been
--               answered, so each path is requested about once (a cold cache). wrk still
--               sleeps for the whole -d, so the threads time themselves ("elapsed_us") and
--               each creates DONE_PREFIX<n> when finished: the caller then sends SIGINT.
local threads = {}

local function now_us()
  local clock = io.popen("date +%s%6N")
  local value = tonumber(clock:read("*l"))
  clock:close()
  return value
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

function init(args)
  local all = {}
  for line in io.lines(args[1]) do all[#all + 1] = line end
  mode = args[2]
  local count = tonumber(args[3])
  done_prefix = args[4]
  paths = {}
  for i, path in ipairs(all) do
    if mode == "cycle" or (i - 1) % count == thread_index - 1 then paths[#paths + 1] = path end
  end
  next_path, answered = 0, 0
  started_us, finished_us = 0, 0
end

function request()
  if mode == "once" and started_us == 0 then started_us = now_us() end
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

function response(status, headers, body)
  answered = answered + 1
  if mode == "once" and answered == #paths then
    finished_us = now_us()
    if done_prefix then io.open(done_prefix .. thread_index, "w"):close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local elapsed = summary.duration
  if threads[1]:get("mode") == "once" then
    local first, last = nil, 0
    for _, thread in ipairs(threads) do
      local started = thread:get("started_us")
      if started > 0 and (first == nil or started < first) then first = started end
    end
    for _, thread in ipairs(threads) do
      local finished = thread:get("finished_us")
      if finished == 0 then finished = first + summary.duration end  -- ran out of time
      if finished > last then last = finished end
    end
    elapsed = last - first
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "non_2xx_3xx": %d}\n',
    summary.requests, elapsed, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
