-- {"order": {"ref": "<our id>", "state": "paid"}}
local o = (req.json or {}).order or {}
local ok, why = core.lead.setstc(tonumber(o.ref), o.state or "")
if not ok then return { error = why }, 422 end
return { ok = true }
