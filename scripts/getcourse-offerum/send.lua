-- Offerum's reply to a new order: {"status":"ok","id":123456} when it took
-- the order, {"status":"error","error":"…"} when it did not.
if type(data) ~= "table" then
  return nil                                  -- not JSON: try again later
end
if data.status == "ok" and data.id then
  return data.id                              -- status 2, ext = Offerum's id
end
local why = string.lower(tostring(data.error or data.message or ""))
if why:find("duplicate", 1, true) or why:find("дубл", 1, true) then
  return -7                                   -- status 5, reason 7: duplicate
end
if why:find("phone", 1, true) or why:find("телефон", 1, true) then
  return -1                                   -- status 5, reason 1: wrong number
end
if why:find("geo", 1, true) or why:find("country", 1, true) then
  return -5                                   -- status 5, reason 5: wrong geo
end
core.log("offerum did not take the order: " .. why)
return nil                                    -- anything else: retry with backoff
