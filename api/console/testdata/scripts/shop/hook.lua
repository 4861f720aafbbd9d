-- JSON orders: {"order": "A1", "name": "…", "phone": "7999…", "email": "…"}
local o = req.json or {}
if not o.order then return { error = "order is missing" }, 422 end
local id, created = core.lead.add{ key = o.order, ext = o.order,
  fields = { name = o.name or "", phone = o.phone or "", email = o.email or "" } }
return { lead = id, created = created }
