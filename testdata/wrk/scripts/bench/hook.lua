local q = req.query
local id, created = core.lead.add{ key = q.order, fields = { phone = q.phone, name = q.name, email = q.email } }
return { ok = true, lead = id, created = created }
