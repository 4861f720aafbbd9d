-- The lead the CLI and the API add, from a webhook: {"key": …, "fields": {…}}.
local body = req.json or {}
local id, created = core.lead.add{ key = body.key, fields = body.fields }
if not id then return { error = created }, 422 end
return { lead = id, created = created }
