local q = req.query
return { ok = true, lead = 1, created = true }
