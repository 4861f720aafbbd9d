local id, created = core.lead.add{ key = req.query.key, fields = { blob = req.body } }
return { lead = id, created = created }
