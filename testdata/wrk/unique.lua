local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  n = 0
  prefix = "r" .. tostring(os.time()) .. "t" .. tostring(tid) .. "-"
end
function request()
  n = n + 1
  return wrk.format("GET", "/hook/bench?token=bench&order=" .. prefix .. n .. "&phone=7999" .. string.format("%07d", n % 10000000) .. "&name=Ivan&email=ivan%40example.com&cost=4990")
end
