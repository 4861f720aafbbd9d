-- A lead from a landing page: ?phone=…&flow=…&click=…
local q = req.query
local id, created = core.lead.add{
  key = q.click,
  fields = { phone = q.phone or "", flow = q.flow or "", sub1 = q.click or "" },
}
if not id then return { error = created }, 422 end
return { lead = id, created = created }
