-- JSON orders: {"order": "A1", "phone": "7999…"}
local o = req.json or {}
if not o.order then return { error = "order is missing" }, 422 end
local id, created = core.lead.add{ key = o.order, fields = { phone = o.phone or "" } }
return { lead = id, created = created }
