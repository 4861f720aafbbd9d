-- batch = 1: inid is the lead asked about. The shop's words are its own:
-- "delivered" and "returned" are known; "paid" needs the lead accepted,
-- which the shop reports as "confirmed" first.
if not inid or type(data) ~= "table" then return end
if data.track and data.track ~= "" then
  core.lead.edit(inid, { track = data.track })
end
if data.status then
  core.lead.setstc(inid, data.status)
end
