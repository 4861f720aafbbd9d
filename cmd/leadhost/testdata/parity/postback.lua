-- The approval the CLI and the API make, from the partner's postback: ?oid=<our id>.
local ok, why = core.lead.approve(tonumber(req.query.oid), "ok")
if not ok then return { error = why }, 422 end
return { ok = true }
