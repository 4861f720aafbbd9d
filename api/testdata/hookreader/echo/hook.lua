-- Walk everything the reader made of the request: a table it built that
-- Lua cannot walk, or a value of a type it should not have, fails here.
local function count(v, depth)
  if type(v) ~= "table" then return 1 end
  local n = 0
  for _, x in pairs(v) do n = n + count(x, depth + 1) end
  return n
end
return {
  method = req.method,
  query = count(req.query, 0),
  form = count(req.form, 0),
  json = count(req.json, 0),
  headers = count(req.headers, 0),
  body = #req.body,
  ip = req.ip,
}
