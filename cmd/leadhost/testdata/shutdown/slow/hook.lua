local id = core.lead.add{ key = req.query.key, fields = { phone = "79990001122" } }
while true do end
