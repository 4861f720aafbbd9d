-- Getcourse's "Call URL" operation on a new purchase (seed 000). The URL
-- carries the order in its query (see the README for the line to paste):
--   order, phone, name, email, cost, country, ip, ua, utm_source,
--   utm_medium, utm_campaign, subid.
local q = req.query

local order = q.order or ""
if order == "" or order:find("{object", 1, true) then
  -- Getcourse left its placeholder unfilled: the process is not set up
  -- on a purchase, or the variable name is wrong.
  return { error = "order is missing: check the URL in the Getcourse process" }, 400
end
local phone = (q.phone or ""):gsub("%D", "")
if #phone < 7 then
  return { error = "phone is missing or too short", order = order }, 400
end

local id, created = core.lead.add{
  key = "gc-" .. order,            -- the same purchase again: the same lead
  fields = {
    order = order,
    phone = phone,
    name = q.name or "",
    email = q.email or "",
    cost = q.cost or "",
    country = (q.country ~= nil and q.country ~= "") and q.country:upper() or "RU",
    ip = q.ip or "",
    ua = q.ua or "",
    subid = (q.subid ~= nil and q.subid ~= "") and q.subid or "getcourse",
    utm_source = q.utm_source or "",
    utm_medium = q.utm_medium or "",
    utm_campaign = q.utm_campaign or "",
  },
}
if not id then
  return { error = created }, 422       -- the store refused it (say, an ext another lead has)
end
return { ok = true, lead = id, created = created }
